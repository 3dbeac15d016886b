
namespace Abi.Engine.Iommufd;

/// <summary>
/// A vIOMMU (IOMMU_VIOMMU_ALLOC) of the selftest's mock IOMMU: a nesting parent shared by the
/// nested HWPTs built on it, its vDEVICEs by virtual ID, its vEVENTQs (one per type), its HW queue
/// slots and, when it was given data, two pages user space maps from the iommufd. Everything built
/// on it, and every live mapping of its pages, holds it busy.
/// </summary>
internal sealed class ViommuObject : IommufdObject
{
    public ViommuObject(HwptPagingObject parent, int hwQueueSlots)
    {
        Parent = parent;
        parent.Users++;
        _hwQueues = new HwQueueObject?[hwQueueSlots];
    }

    public override ObjectKind Kind => ObjectKind.Viommu;

    public HwptPagingObject Parent { get; }

    private readonly Dictionary<ulong, VdeviceObject> _vdevices = [];
    private readonly List<VeventqObject> _veventqs = [];
    private readonly HwQueueObject?[] _hwQueues;

    /// <summary>The vDEVICE with virtual ID <paramref name="virtId"/>, if any.</summary>
    public bool TryGetVdevice(ulong virtId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out VdeviceObject? vdevice) => _vdevices.TryGetValue(virtId, out vdevice);

    /// <summary>A vDEVICE takes its virtual ID (iommufd_vdevice_alloc_ioctl: xa_cmpxchg into vdevs).</summary>
    public void AddVdevice(ulong virtId, VdeviceObject vdevice) => _vdevices.Add(virtId, vdevice);

    public void RemoveVdevice(ulong virtId) => _vdevices.Remove(virtId);

    /// <summary>The vEVENTQ of <paramref name="type"/>, if any (one per type).</summary>
    public VeventqObject? Veventq(uint type) => _veventqs.Find(q => q.Type == type);

    public void AddVeventq(VeventqObject queue) => _veventqs.Add(queue);

    public void RemoveVeventq(VeventqObject queue) => _veventqs.Remove(queue);

    /// <summary>How many HW queue slots the driver gave it.</summary>
    public int HwQueueSlots => _hwQueues.Length;

    /// <summary>The HW queue in slot <paramref name="index"/>, if any.</summary>
    public HwQueueObject? HwQueue(int index) => _hwQueues[index];

    /// <summary>Fills (or empties, with null) slot <paramref name="index"/>.</summary>
    public void SetHwQueue(int index, HwQueueObject? queue) => _hwQueues[index] = queue;

    /// <summary>The pages offered to mmap, if the vIOMMU was allocated with data.</summary>
    public MmapRegion? Pages { get; set; }

    public override void Destroyed()
    {
        Parent.Users--;
        Pages?.Dispose();
    }
}
