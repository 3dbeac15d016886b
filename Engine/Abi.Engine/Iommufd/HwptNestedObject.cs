
namespace Abi.Engine.Iommufd;

/// <summary>
/// A nested HWPT (IOMMU_HWPT_ALLOC on a nesting parent): a stage-1 domain whose contents are the
/// IOMMU driver's (<see cref="DriverState"/>, what its domain_alloc_nested made of the user data;
/// the selftest mock keeps IOTLB slots there). It holds its parent, or the vIOMMU it was built on,
/// and its fault queue busy while it lives.
/// </summary>
internal sealed class HwptNestedObject : HwptObject
{
    public HwptNestedObject(HwptPagingObject parent, uint flags, FaultObject? fault, object? driverState, ViommuObject? viommu = null)
        : base(flags, fault)
    {
        Parent = parent;
        Viommu = viommu;
        DriverState = driverState;

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

    /// <summary>What the IOMMU driver keeps for this domain, or null.</summary>
    public object? DriverState { get; }

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
