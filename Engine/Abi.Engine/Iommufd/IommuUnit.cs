using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The IOMMU driver in front of a device, as far as iommufd calls it (the kernel's <c>iommu_ops</c>,
/// <c>iommu_domain_ops</c> and <c>iommufd_viommu_ops</c>): the geometry of the paging domains it
/// builds, what IOMMU_GET_HW_INFO reports, and the hooks for what only some drivers do (driver data
/// in HWPT_ALLOC, nested domains, vIOMMUs, user cache invalidation, PASID quirks). Every hook
/// defaults to what a driver without that feature answers, so the core keeps the kernel's generic
/// checks and order and calls the driver where the kernel calls its ops. The engine's units are
/// <see cref="VtdIommu"/>; the selftest's mock IOMMU lives in <c>Abi.Engine.Selftest</c>.
/// </summary>
internal abstract record IommuUnit
{
    public ulong PageSizes { get; init; }

    /// <summary>The smallest page the domain maps: an IOAS with this domain aligns IOVAs to it.</summary>
    public ulong MinPageSize => PageSizes & (~PageSizes + 1);

    public ulong ApertureStart { get; init; }

    public ulong ApertureLast { get; init; }

    /// <summary>Whether each device reserves the x86 MSI window [0xfee00000, 0xfeefffff].</summary>
    public bool MsiWindow { get; init; }

    public bool DirtyTracking { get; init; }

    /// <summary>Whether the device takes PASIDs (the core then checks each PASID against <see cref="PasidWidth"/>).</summary>
    public bool Pasid { get; init; }

    /// <summary>log2 of the PASIDs the device takes (IOMMU_GET_HW_INFO's out_max_pasid_log2 when <see cref="Pasid"/>).</summary>
    public virtual int PasidWidth => 0;

    /// <summary>
    /// How many PASIDs the core lets the device use (iommu.c: dev_iommu_get_max_pasids): 2^<see cref="PasidWidth"/>
    /// with <see cref="Pasid"/>, else 0, and a device with 0 is skipped when a PASID is attached.
    /// </summary>
    public virtual uint MaxPasids => Pasid ? 1u << PasidWidth : 0;

    /// <summary>Whether the driver builds PASID-compatible paging domains (IOMMU_HWPT_ALLOC_PASID).</summary>
    public virtual bool PasidDomains => false;

    /// <summary>Whether the driver builds nested domains and vIOMMUs on a nesting parent of its own.</summary>
    public virtual bool Nesting => false;

    public uint HwInfoType { get; init; }

    /// <summary>
    /// log2 of what one dirty bit covers: the smallest IOPTE (4 KiB on VT-d, 2 KiB on the mock,
    /// whose 4 KiB entries are two contiguous 2 KiB items that report dirty one item at a time).
    /// </summary>
    public int DirtyGranuleShift { get; init; } = 12;

    /// <summary>A large leaf the domain maps where the IOVA block and its source are aligned (0: none modelled); it is dirty as a whole.</summary>
    public ulong HugeLeaf { get; init; }

    /// <summary>IOMMU_GET_HW_INFO's out_capabilities.</summary>
    public abstract ulong HwCapabilities { get; }

    /// <summary>IOMMU_CAP_ENFORCE_CACHE_COHERENCY: its domains can force snooping, so VFIO_DMA_CC_IOMMU holds for them.</summary>
    public virtual bool EnforcesCacheCoherency => true;

    /// <summary>
    /// The driver's attach of a domain with a fault handler (a HWPT allocated with a fault queue):
    /// null when it enables page requests for the device, or the errno it answers instead.
    /// </summary>
    public virtual int? FaultDomainRefusal() => null;

    /// <summary><c>ops->hw_info</c>: writes the driver's information blob into <paramref name="blob"/> (64 bytes) and returns its length.</summary>
    public abstract int HwInfo(Span<byte> blob);

    /// <summary>
    /// <c>domain_alloc_paging_flags</c> with user data (a data_type other than NONE): may change the
    /// domain's geometry; null when accepted.
    /// </summary>
    public virtual int? PagingData(ref iommu_hwpt_alloc cmd, ref IommuUnit domain) =>
        Fail(Errno.EOPNOTSUPP, $"data_type {cmd.data_type}: the device's IOMMU takes no such paging data");

    /// <summary><c>domain_alloc_nested</c>'s user data (only called when <see cref="Nesting"/>): on success, what the driver keeps for the new domain.</summary>
    public virtual int? NestedData(ref iommu_hwpt_alloc cmd, out object? domainState)
    {
        domainState = null;
        return Fail(Errno.EOPNOTSUPP, "the device's IOMMU does not support nested translation");
    }

    /// <summary>How many HW queue slots a vIOMMU of this driver has (0: none).</summary>
    public virtual int HwQueueSlots => 0;

    /// <summary><c>cache_invalidate_user</c> of a nested domain: entry_num counts the entries done.</summary>
    public virtual int InvalidateNested(HwptNestedObject nested, ref iommu_hwpt_invalidate cmd, uint requested) =>
        Fail(Errno.EOPNOTSUPP, "the IOMMU has no user cache invalidation");

    /// <summary><c>viommu->ops->cache_invalidate</c>: entry_num counts the entries done.</summary>
    public virtual int InvalidateViommu(ViommuObject viommu, ref iommu_hwpt_invalidate cmd, uint requested) =>
        Fail(Errno.EOPNOTSUPP, "the IOMMU has no vIOMMU cache invalidation");

    /// <summary>Whether the driver has a vIOMMU of <paramref name="type"/> (<c>get_viommu_size</c>); null when it has.</summary>
    public virtual int? ViommuType(uint type) => Fail(Errno.EOPNOTSUPP, "the device's IOMMU has no vIOMMU support");

    /// <summary><c>viommu_init</c> with the user's data (data_len above 0).</summary>
    public virtual int? ViommuData(IommufdFile context, ViommuObject viommu, ulong uptr, uint length) =>
        Fail(Errno.EOPNOTSUPP, "the vIOMMU takes no data");

    /// <summary>Whether the vIOMMU has HW queues of <paramref name="type"/>; null when it has.</summary>
    public virtual int? HwQueueType(uint type) => Fail(Errno.EOPNOTSUPP, $"HW queue type 0x{type:X}: the vIOMMU has no HW queues");

    /// <summary><c>hw_queue_init_phys</c>: the driver's slot rules for a queue at <paramref name="index"/>.</summary>
    public virtual int HwQueueSlot(ViommuObject viommu, uint index) => Fail(Errno.EOPNOTSUPP, "the vIOMMU has no HW queues");

    /// <summary>The driver's <c>hw_queue->destroy</c>: the queue leaves its slot.</summary>
    public virtual void HwQueueDestroyed(ViommuObject viommu, HwQueueObject queue) => viommu.SetHwQueue((int)queue.Index, null);

    /// <summary><c>set_dev_pasid</c> on a PASID-capable device, after the core's checks; null when the driver accepts.</summary>
    public virtual int? PasidChange(DeviceObject device, uint pasid) => null;

    /// <summary>The PASID went to the blocked domain.</summary>
    public virtual void PasidBlocked(DeviceObject device, uint pasid)
    {
    }

    /// <summary>The device's RID was attached to a domain (<paramref name="viommu"/>: the vIOMMU of a nested domain, or null).</summary>
    public virtual void Attached(DeviceObject device, ViommuObject? viommu)
    {
    }

    /// <summary>What the driver keeps per device (<c>dev_iommu_priv</c>), or null.</summary>
    public virtual object? NewDeviceState() => null;
}
