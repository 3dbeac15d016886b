namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// A nested HWPT (IOMMU_HWPT_ALLOC on a nesting parent): the selftest mock's stage-1 domain, which
/// keeps four IOTLB slots that IOMMU_HWPT_INVALIDATE clears and MD_CHECK_IOTLB reads. It holds its
/// parent (and its fault queue) busy while it lives.
/// </summary>
internal sealed class HwptNestedObject : HwptObject
{
    /// <summary>The mock's IOTLB slots (MOCK_NESTED_DOMAIN_IOTLB_NUM).</summary>
    public const int IotlbSlots = 4;

    public HwptNestedObject(HwptPagingObject parent, uint flags, FaultObject? fault, uint iotlb)
        : base(flags, fault)
    {
        Parent = parent;
        Array.Fill(Iotlb, iotlb);
        parent.Users++;
        if (fault is not null)
        {
            fault.Users++;
        }
    }

    public override ObjectKind Kind => ObjectKind.HwptNested;

    public HwptPagingObject Parent { get; }

    public override HwptPagingObject Paging => Parent;

    public override IoasObject Ioas => Parent.Ioas;

    public uint[] Iotlb { get; } = new uint[IotlbSlots];

    public override void Destroyed()
    {
        Parent.Users--;
        if (Fault is not null)
        {
            Fault.Users--;
        }
    }
}
