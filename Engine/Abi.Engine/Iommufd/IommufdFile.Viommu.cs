using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <remarks>
/// vIOMMU objects (<c>drivers/iommu/iommufd/viommu.c</c>): the core's checks in the kernel's order,
/// then the device's IOMMU driver (<see cref="IommuUnit"/>) decides types, data, invalidation and
/// HW queue slots. The engine's VT-d unit has no vIOMMU support, like a real IOMMU whose driver
/// implements none: after the kernel's argument checks the answer is EOPNOTSUPP (or ENOENT where
/// the kernel looks an id up first). The selftest's mock IOMMU has one.
/// </remarks>
internal sealed unsafe partial class IommufdFile
{
    internal static int ViommuAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_viommu_alloc cmd = ref *(iommu_viommu_alloc*)arg;
        if (cmd.flags != 0 || cmd.type == (uint)iommu_viommu_type.IOMMU_VIOMMU_TYPE_DEFAULT)
        {
            return Fail(Errno.EOPNOTSUPP, "flags must be 0 and type not DEFAULT");
        }

        if (f.Objects.Get(cmd.dev_id) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device");
        }

        if (device.Iommu.ViommuType(cmd.type) is int unsupported)
        {
            return unsupported;
        }

        if (f.Objects.Get<HwptPagingObject>(cmd.hwpt_id, ObjectKind.HwptPaging) is not HwptPagingObject parent)
        {
            return Fail(Errno.ENOENT, $"{cmd.hwpt_id} is not a paging HWPT");
        }

        if (!parent.NestParent)
        {
            return Fail(Errno.EINVAL, $"HWPT {parent.Id} is not a nesting parent (IOMMU_HWPT_ALLOC_NEST_PARENT)");
        }

        if (f.Kernel.Faults.ShouldFail("viommu.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: viommu.alloc");
        }

        var viommu = new ViommuObject(parent, device.Iommu.HwQueueSlots);
        if (cmd.data_len != 0 && device.Iommu.ViommuData(f, viommu, cmd.data_uptr, cmd.data_len) is int failed)
        {
            viommu.Destroyed();
            return failed;
        }

        cmd.out_viommu_id = f.Objects.Add(viommu);
        return 0;
    }

    internal static int VdeviceAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_vdevice_alloc cmd = ref *(iommu_vdevice_alloc*)arg;
        if (f.Objects.Get<ViommuObject>(cmd.viommu_id, ObjectKind.Viommu) is not ViommuObject viommu)
        {
            return Fail(Errno.ENOENT, $"{cmd.viommu_id} is not a vIOMMU");
        }

        if (f.Objects.Get(cmd.dev_id) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device");
        }

        // A vDEVICE must sit behind an IOMMU of the vIOMMU's driver.
        if (!device.Iommu.Nesting || device.Iommu.GetType() != viommu.Parent.Iommu.GetType())
        {
            return Fail(Errno.EINVAL, $"device {device.Id} is not behind the vIOMMU's IOMMU");
        }

        if (device.Vdevice is VdeviceObject existing)
        {
            return Fail(Errno.EEXIST, $"device {device.Id} already has vDEVICE {existing.Id}");
        }

        if (viommu.TryGetVdevice(cmd.virt_id, out VdeviceObject? taken))
        {
            return Fail(Errno.EEXIST, $"virtual ID 0x{cmd.virt_id:X} is taken by vDEVICE {taken.Id}");
        }

        if (f.Kernel.Faults.ShouldFail("vdevice.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: vdevice.alloc");
        }

        cmd.out_vdevice_id = f.Objects.Add(new VdeviceObject(viommu, device, cmd.virt_id));
        return 0;
    }

    /// <summary>The device goes away: its vDEVICE is destroyed with it and leaves its id as a tombstone.</summary>
    private void TombstoneVdevice(DeviceObject device)
    {
        if (device.Vdevice is VdeviceObject vdevice)
        {
            Objects.Tombstone(vdevice.Id);
            vdevice.Destroyed();
        }
    }

    internal static int VeventqAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        const uint MaxDepth = 1u << 19;
        ref iommu_veventq_alloc cmd = ref *(iommu_veventq_alloc*)arg;
        if (cmd.flags != 0 || cmd.__reserved != 0 || cmd.type == (uint)iommu_veventq_type.IOMMU_VEVENTQ_TYPE_DEFAULT)
        {
            return Fail(Errno.EOPNOTSUPP, "flags and __reserved must be 0 and type not DEFAULT");
        }

        if (cmd.veventq_depth == 0 || cmd.veventq_depth > MaxDepth)
        {
            return Fail(Errno.EINVAL, $"veventq_depth {cmd.veventq_depth} is not in [1, 2^19]");
        }

        if (f.Objects.Get<ViommuObject>(cmd.viommu_id, ObjectKind.Viommu) is not ViommuObject viommu)
        {
            return Fail(Errno.ENOENT, $"{cmd.viommu_id} is not a vIOMMU");
        }

        uint type = cmd.type;
        if (viommu.Veventq(type) is VeventqObject existing)
        {
            return Fail(Errno.EEXIST, $"vIOMMU {viommu.Id} has a vEVENTQ of type 0x{cmd.type:X} already ({existing.Id})");
        }

        if (f.Kernel.Faults.ShouldFail("veventq.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: veventq.alloc");
        }

        var queue = new VeventqObject(viommu, cmd.type, cmd.veventq_depth);
        int fd = f.Kernel.AddFile(new EventQueueObject.File(queue, f));
        if (fd < 0)
        {
            queue.Destroyed();
            return fd;
        }

        queue.Users++;              // the open fd pins the object
        call.NewFd = fd;
        cmd.out_veventq_id = f.Objects.Add(queue);
        cmd.out_veventq_fd = (uint)fd;
        return 0;
    }

    internal static int HwQueueAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hw_queue_alloc cmd = ref *(iommu_hw_queue_alloc*)arg;
        if (cmd.flags != 0 || cmd.type == (uint)iommu_hw_queue_type.IOMMU_HW_QUEUE_TYPE_DEFAULT)
        {
            return Fail(Errno.EOPNOTSUPP, "flags must be 0 and type not DEFAULT");
        }

        if (cmd.length == 0)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        if (cmd.nesting_parent_iova + (cmd.length - 1) < cmd.nesting_parent_iova)
        {
            return Fail(Errno.EOVERFLOW, "nesting_parent_iova + length wraps");
        }

        if (f.Objects.Get<ViommuObject>(cmd.viommu_id, ObjectKind.Viommu) is not ViommuObject viommu)
        {
            return Fail(Errno.ENOENT, $"{cmd.viommu_id} is not a vIOMMU");
        }

        if (viommu.Parent.Iommu.HwQueueType(cmd.type) is int unsupported)
        {
            return unsupported;
        }

        if (f.Kernel.Faults.ShouldFail("hwqueue.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: hwqueue.alloc");
        }

        // Whole pages under [iova, iova + length): the page offset counts, as the kernel rounds.
        const ulong Page = LinuxConstants.PageSize;
        ulong aligned = cmd.nesting_parent_iova & ~(Page - 1);
        ulong offset = cmd.nesting_parent_iova - aligned;
        if (cmd.length > ulong.MaxValue - offset - (Page - 1))
        {
            return Fail(Errno.ERANGE, "the queue's page-rounded length wraps");
        }

        ulong pinned = (offset + cmd.length + (Page - 1)) & ~(Page - 1);
        if (pinned / Page * (ulong)sizeof(nint) > int.MaxValue)
        {
            // iommufd_hw_queue_alloc_phys: kvzalloc of the page array refuses more than INT_MAX bytes.
            return Fail(Errno.ENOMEM, $"{pinned / Page} pages need a page array past INT_MAX bytes");
        }

        // The kernel numbers the queue before the internal access that pins its pages.
        uint queueId = f.Objects.Add(new PendingHwQueue());
        AccessObject access = f.CreateAccess(unmapped: null, pinsPages: true, locksAreas: true);
        int rc = access.Attach(viommu.Parent.Ioas.Id);
        rc = rc < 0 ? rc : access.Pin(aligned, pinned, write: false);
        rc = rc < 0 ? rc : f.PhysicallyContiguous(access, aligned, pinned);
        rc = rc < 0 ? rc : viommu.Parent.Iommu.HwQueueSlot(viommu, cmd.index);
        if (rc < 0)
        {
            string? reason = LastReason;
            f.DestroyAccess(access);
            f.Objects.Remove(queueId);
            return Fail((Errno)(-rc), reason ?? "HW queue allocation failed");
        }

        HwQueueObject? previous = cmd.index > 0 ? viommu.HwQueue((int)cmd.index - 1) : null;
        var queue = new HwQueueObject(viommu, cmd.index, cmd.nesting_parent_iova, cmd.length, access, previous);
        f.Objects.Replace(queueId, queue);
        call.NewObject = queue;          // an answer that cannot be written destroys the queue (and its access with it)
        cmd.out_hw_queue_id = queueId;
        return 0;
    }

    /// <summary>
    /// The hardware reads a queue by physical address, so its pages must be physically contiguous
    /// (EFAULT otherwise). Frame numbers come from /proc/self/pagemap; where it hides them (no
    /// CAP_SYS_ADMIN), a page is not present yet (the engine's pin does not fault pages in, the
    /// kernel's does) or a page is a file's, consecutive source addresses of one mapping stand in,
    /// which is more lenient than the kernel.
    /// </summary>
    private int PhysicallyContiguous(AccessObject access, ulong iova, ulong length)
    {
        const ulong Page = LinuxConstants.PageSize;
        IoasObject ioas = access.Ioas!;
        ulong previousFrame = 0, previousSource = 0;
        Pages? previousPages = null;
        using Microsoft.Win32.SafeHandles.SafeFileHandle? pagemap = OpenPagemap();
        Span<byte> entry = stackalloc byte[sizeof(ulong)];
        for (ulong at = iova; at - iova < length; at += Page)
        {
            _ = ioas.Iopt.TryGetArea(at, out Area area);
            ulong source = area.SourceOf(at);
            ulong frame = 0;
            if (pagemap is not null && area.Pages.FileDescriptor is null && RandomAccess.Read(pagemap, entry, (long)(source / Page * sizeof(ulong))) == entry.Length)
            {
                frame = BitConverter.ToUInt64(entry) & ((1UL << 55) - 1);
            }

            bool contiguous = at == iova
                || (frame != 0 && previousFrame != 0 ? frame == previousFrame + 1 : area.Pages == previousPages && source == previousSource + Page);
            if (!contiguous)
            {
                return Fail(Errno.EFAULT, $"the queue's page at IOVA 0x{at:X} does not follow the one before it physically");
            }

            (previousFrame, previousSource, previousPages) = (frame, source, area.Pages);
        }

        return 0;
    }

    private static Microsoft.Win32.SafeHandles.SafeFileHandle? OpenPagemap()
    {
        try
        {
            return File.OpenHandle("/proc/self/pagemap");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Holds a HW queue's id while its pages are pinned (the kernel allocates the id first).</summary>
    private sealed class PendingHwQueue : IommufdObject
    {
        public override ObjectKind Kind => ObjectKind.HwQueue;
    }
}
