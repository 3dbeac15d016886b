
namespace Abi.Engine.Iommufd;

/// <summary>
/// A vIOMMU (IOMMU_VIOMMU_ALLOC) of the selftest's mock IOMMU: a nesting parent shared by the
/// nested HWPTs built on it, its vDEVICEs by virtual ID, its vEVENTQs (one per type), its HW queue
/// slots and, when it was given data, two pages user space maps from the iommufd. Everything built
/// on it, and every live mapping of its pages, holds it busy.
/// </summary>
internal sealed class ViommuObject : IommufdObject
{
    /// <summary>The mock's HW queue slots (IOMMU_TEST_HW_QUEUE_MAX).</summary>
    public const int HwQueueSlots = 2;

    public ViommuObject(HwptPagingObject parent)
    {
        Parent = parent;
        parent.Users++;
    }

    public override ObjectKind Kind => ObjectKind.Viommu;

    public HwptPagingObject Parent { get; }

    public Dictionary<ulong, VdeviceObject> Vdevices { get; } = [];

    public List<VeventqObject> Veventqs { get; } = [];

    public HwQueueObject?[] HwQueues { get; } = new HwQueueObject?[HwQueueSlots];

    /// <summary>The pages offered to mmap, if the vIOMMU was allocated with data.</summary>
    public MmapRegion? Pages { get; set; }

    public override void Destroyed()
    {
        Parent.Users--;
        Pages?.Dispose();
    }
}
