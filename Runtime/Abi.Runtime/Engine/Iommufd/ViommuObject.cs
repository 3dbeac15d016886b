namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// A vIOMMU (IOMMU_VIOMMU_ALLOC) of the selftest's mock IOMMU: a nesting parent shared by the
/// nested HWPTs built on it, which it holds busy. vDEVICEs, vEVENTQs, HW queues and its cache
/// invalidation are not modelled.
/// </summary>
internal sealed class ViommuObject : IommufdObject
{
    public ViommuObject(HwptPagingObject parent)
    {
        Parent = parent;
        parent.Users++;
    }

    public override ObjectKind Kind => ObjectKind.Viommu;

    public HwptPagingObject Parent { get; }

    public override void Destroyed() => Parent.Users--;
}
