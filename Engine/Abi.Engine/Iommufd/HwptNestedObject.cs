
namespace Abi.Engine.Iommufd;

/// <summary>
/// A nested HWPT (IOMMU_HWPT_ALLOC on a nesting parent): the selftest mock's stage-1 domain, which
/// keeps four IOTLB slots that IOMMU_HWPT_INVALIDATE clears and MD_CHECK_IOTLB reads. It holds its
/// parent, or the vIOMMU it was built on, and its fault queue busy while it lives.
/// </summary>
internal sealed class HwptNestedObject : HwptObject
{
    /// <summary>The mock's IOTLB slots (MOCK_NESTED_DOMAIN_IOTLB_NUM).</summary>
    public const int IotlbSlots = 4;

    public HwptNestedObject(HwptPagingObject parent, uint flags, FaultObject? fault, uint iotlb, ViommuObject? viommu = null)
        : base(flags, fault)
    {
        Parent = parent;
        Viommu = viommu;
        Array.Fill(_iotlb, iotlb);

        // Built on a vIOMMU, it holds the vIOMMU (which holds the parent); else the parent itself.
        if (viommu is not null)
        {
            viommu.Users++;
        }
        else
        {
            parent.Users++;
        }

        if (fault is not null)
        {
            fault.Users++;
        }
    }

    public override ObjectKind Kind => ObjectKind.HwptNested;

    public HwptPagingObject Parent { get; }

    public override HwptPagingObject Paging => Parent;

    public override IoasObject Ioas => Parent.Ioas;

    private readonly uint[] _iotlb = new uint[IotlbSlots];

    /// <summary>IOTLB slot <paramref name="slot"/> (the selftest's mock driver keeps tags there).</summary>
    public uint IotlbAt(int slot) => _iotlb[slot];

    public void SetIotlb(int slot, uint value) => _iotlb[slot] = value;

    public void ClearIotlb() => Array.Clear(_iotlb);

    /// <summary>The vIOMMU it was built on, if any.</summary>
    public ViommuObject? Viommu { get; }

    public override void Destroyed()
    {
        if (Viommu is not null)
        {
            Viommu.Users--;
        }
        else
        {
            Parent.Users--;
        }

        if (Fault is not null)
        {
            Fault.Users--;
        }
    }
}
