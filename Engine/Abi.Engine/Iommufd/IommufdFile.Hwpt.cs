using System.Runtime.InteropServices;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using CommunityToolkit.HighPerformance.Buffers;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <remarks>
/// HWPTs on the engine's IOMMU (<see cref="EngineIommu"/>): paging domains only, with dirty
/// tracking; nesting, PASID and user data are what a VT-d unit without nesting refuses.
/// </remarks>
internal sealed unsafe partial class IommufdFile
{
    private const uint HwptFlagsKnown = (uint)(iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_NEST_PARENT | iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        | iommufd_hwpt_alloc_flags.IOMMU_HWPT_FAULT_ID_VALID | iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_PASID);

    private const uint NestParent = (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_NEST_PARENT;
    private const uint FaultIdValid = (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_FAULT_ID_VALID;
    private const uint PasidFlag = (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_PASID;

    internal static int HwptAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hwpt_alloc cmd = ref *(iommu_hwpt_alloc*)arg;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        if ((cmd.data_type == (uint)iommu_hwpt_data_type.IOMMU_HWPT_DATA_NONE) != (cmd.data_len == 0))
        {
            return Fail(Errno.EINVAL, "data_type NONE goes with data_len 0, and any other type with data_len > 0");
        }

        if (f.Objects.Get(cmd.dev_id) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device");
        }

        switch (f.Objects.Get(cmd.pt_id))
        {
            case null:
                return Fail(Errno.EINVAL, $"pt_id {cmd.pt_id} does not exist");
            case IoasObject ioas:
                if ((cmd.flags & ~HwptFlagsKnown) != 0)
                {
                    return Fail(Errno.EOPNOTSUPP, $"unknown flags 0x{cmd.flags & ~HwptFlagsKnown:X}");
                }

                // hw_pagetable.c: iommufd_hwpt_paging_alloc checks the flags it knows (dirty tracking against
                // the device's capability, no fault queue on a nesting parent) before the driver's
                // domain_alloc_paging_flags reads them and the user data.
                if ((cmd.flags & (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING) != 0 && !device.Iommu.DirtyTracking)
                {
                    return Fail(Errno.EOPNOTSUPP, "the device's IOMMU cannot track dirty pages");
                }

                if ((cmd.flags & FaultIdValid) != 0 && (cmd.flags & NestParent) != 0)
                {
                    return Fail(Errno.EOPNOTSUPP, "a nesting parent cannot take a fault queue");
                }

                if ((cmd.flags & PasidFlag) != 0 && !device.Iommu.PasidDomains)
                {
                    return Fail(Errno.EOPNOTSUPP, "the device's IOMMU builds no PASID-compatible domains");
                }

                IommuUnit iommu = device.Iommu;
                // The driver's domain_alloc_paging_flags (intel: nested_supported) refuses a nesting
                // parent it could never nest on, before the domain meets the IOAS.
                if ((cmd.flags & NestParent) != 0 && !iommu.Nesting)
                {
                    return Fail(Errno.EOPNOTSUPP, "the device's IOMMU builds no nested domains, so no nesting parent");
                }

                if (cmd.data_type != (uint)iommu_hwpt_data_type.IOMMU_HWPT_DATA_NONE && iommu.PagingData(ref cmd, ref iommu) is int dataFailed)
                {
                    return dataFailed;
                }

                if (ioas.Iopt.AddDomainRefusal(iommu) is int failed)
                {
                    return failed;
                }

                // hw_pagetable.c: iommufd_hwpt_alloc looks the fault queue up once the HWPT exists.
                FaultObject? fault = null;
                if ((cmd.flags & FaultIdValid) != 0 && (fault = f.Objects.Get<FaultObject>(cmd.fault_id, ObjectKind.Fault)) is null)
                {
                    return Fail(Errno.ENOENT, $"fault_id {cmd.fault_id} is not a fault queue");
                }

                if (f.Kernel.Faults.ShouldFail("hwpt.alloc"))
                {
                    return Fail(Errno.ENOMEM, "injected failure: hwpt.alloc");
                }

                var hwpt = new HwptPagingObject(ioas, automatic: false, cmd.flags, fault, iommu);
                cmd.out_hwpt_id = f.Objects.Add(hwpt);
                hwpt.AddToIoas();
                return 0;
            case HwptPagingObject parent:
                return f.AllocNested(device, parent, null, ref cmd);
            case ViommuObject viommu:
                return f.AllocNested(device, viommu.Parent, viommu, ref cmd);
            case IommufdObject other:
                return Fail(Errno.EINVAL, $"pt_id {cmd.pt_id} is a {other.Kind}; a HWPT is built on an IOAS");
        }
    }

    /// <summary>
    /// A nested HWPT on <paramref name="parent"/> (iommufd's checks, then the driver's). Only the
    /// driver's nesting support decides; the engine's VT-d unit has none (EOPNOTSUPP).
    /// </summary>
    private int AllocNested(DeviceObject device, HwptPagingObject parent, ViommuObject? viommu, ref iommu_hwpt_alloc cmd)
    {
        if (viommu is not null && !device.Iommu.Nesting)
        {
            return Fail(Errno.EINVAL, $"vIOMMU {viommu.Id} belongs to another IOMMU than the device's");
        }

        if ((cmd.flags & ~(FaultIdValid | PasidFlag)) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"flags 0x{cmd.flags:X}: a nested HWPT takes only FAULT_ID_VALID and PASID");
        }

        if (cmd.data_len == 0 || !device.Iommu.Nesting)
        {
            return Fail(Errno.EOPNOTSUPP, cmd.data_len == 0 ? "a nested HWPT needs driver data" : "the device's IOMMU does not support nested translation");
        }

        if (viommu is null && (parent.Automatic || !parent.NestParent || !parent.Iommu.Nesting))
        {
            return Fail(Errno.EINVAL, $"HWPT {parent.Id} is not a nesting parent (IOMMU_HWPT_ALLOC_NEST_PARENT) of this IOMMU");
        }

        if (device.Iommu.NestedData(ref cmd, out object? domainState) is int dataFailed)
        {
            return dataFailed;
        }

        FaultObject? fault = null;
        if ((cmd.flags & FaultIdValid) != 0 && (fault = Objects.Get<FaultObject>(cmd.fault_id, ObjectKind.Fault)) is null)
        {
            return Fail(Errno.ENOENT, $"fault_id {cmd.fault_id} is not a fault queue");
        }

        cmd.out_hwpt_id = Objects.Add(new HwptNestedObject(parent, cmd.flags, fault, domainState, viommu));
        return 0;
    }

    internal static int GetHwInfo(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hw_info cmd = ref *(iommu_hw_info*)arg;
        if ((cmd.flags & ~(uint)iommufd_hw_info_flags.IOMMU_HW_INFO_FLAG_INPUT_TYPE) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown flags 0x{cmd.flags:X}");
        }

        if (cmd.__reserved[0] != 0 || cmd.__reserved[1] != 0 || cmd.__reserved[2] != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        if (f.Objects.Get(cmd.dev_id) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device");
        }

        uint requested = (cmd.flags & (uint)iommufd_hw_info_flags.IOMMU_HW_INFO_FLAG_INPUT_TYPE) != 0 ? cmd.in_data_type : 0;
        IommuUnit iommu = device.Iommu;
        if (requested != (uint)iommu_hw_info_type.IOMMU_HW_INFO_TYPE_DEFAULT && requested != iommu.HwInfoType)
        {
            return Fail(Errno.EOPNOTSUPP, $"the device's IOMMU reports information of type 0x{iommu.HwInfoType:X}, not 0x{requested:X}");
        }

        Span<byte> info = stackalloc byte[64];
        ReadOnlySpan<byte> blob = info[..iommu.HwInfo(info)];
        if (cmd.data_len > 0)
        {
            // Copy what fits, zero the rest of the caller's buffer (in bounded chunks).
            int copy = (int)Math.Min(cmd.data_len, (uint)blob.Length);
            if (!UserAccess.TryWrite(cmd.data_uptr, blob[..copy]))
            {
                return Fail(Errno.EFAULT, $"data_uptr 0x{cmd.data_uptr:X} cannot be written");
            }

            Span<byte> zeros = stackalloc byte[256];
            zeros.Clear();
            for (ulong at = (ulong)copy; at < cmd.data_len; at += (ulong)zeros.Length)
            {
                int n = (int)Math.Min((ulong)zeros.Length, cmd.data_len - at);
                if (!UserAccess.TryWrite(cmd.data_uptr + at, zeros[..n]))
                {
                    return Fail(Errno.EFAULT, $"data_uptr 0x{cmd.data_uptr:X} cannot be written past byte {at}");
                }
            }
        }

        cmd.data_len = (uint)blob.Length;
        cmd.out_data_type = iommu.HwInfoType;
        cmd.out_capabilities = iommu.HwCapabilities;
        cmd.out_max_pasid_log2 = iommu.Pasid ? (byte)iommu.PasidWidth : (byte)0;
        return 0;
    }

    internal static int HwptSetDirtyTracking(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hwpt_set_dirty_tracking cmd = ref *(iommu_hwpt_set_dirty_tracking*)arg;
        const uint Enable = (uint)iommufd_hwpt_set_dirty_tracking_flags.IOMMU_HWPT_DIRTY_TRACKING_ENABLE;
        if ((cmd.flags & ~Enable) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown flags 0x{cmd.flags:X}");
        }

        if (f.Objects.Get<HwptPagingObject>(cmd.hwpt_id, ObjectKind.HwptPaging) is not HwptPagingObject hwpt)
        {
            return Fail(Errno.ENOENT, $"{cmd.hwpt_id} is not a paging HWPT");
        }

        if (!hwpt.HasDirtyOps)
        {
            return Fail(Errno.EOPNOTSUPP, $"HWPT {hwpt.Id} was not allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING");
        }

        // io_pagetable.c: iopt_set_dirty_tracking clears every area's dirty bits on each enable, before
        // the driver's set_dirty_tracking (which does nothing when tracking is on already): a clean
        // snapshot each time (fuzzer seed 1184).
        bool enable = (cmd.flags & Enable) != 0;
        if (enable)
        {
            hwpt.Dirty.Clear(0, ulong.MaxValue);
        }

        hwpt.Tracking = enable;
        return 0;
    }

    internal static int HwptGetDirtyBitmap(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hwpt_get_dirty_bitmap cmd = ref *(iommu_hwpt_get_dirty_bitmap*)arg;
        const uint NoClear = (uint)iommufd_hwpt_get_dirty_bitmap_flags.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;
        if ((cmd.flags & ~NoClear) != 0 || cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "unknown flags or non-zero __reserved");
        }

        if (f.Objects.Get<HwptPagingObject>(cmd.hwpt_id, ObjectKind.HwptPaging) is not HwptPagingObject hwpt)
        {
            return Fail(Errno.ENOENT, $"{cmd.hwpt_id} is not a paging HWPT");
        }

        // io_pagetable.c: iommufd_check_iova_range. length - 1 wraps for a length of 0, which passes
        // only at iova 0 (the range is then everything).
        ulong alignment = hwpt.Ioas.Iopt.Alignment;
        ulong last = unchecked(cmd.iova + (cmd.length - 1));
        if (last < cmd.iova)
        {
            return Fail(Errno.EOVERFLOW, $"iova 0x{cmd.iova:X} + length 0x{cmd.length:X} wraps");
        }

        ulong end = unchecked(last + 1);     // may be 2^64 → 0, which every alignment divides
        if (cmd.iova % alignment != 0 || end % alignment != 0)
        {
            return Fail(Errno.EINVAL, $"the range is not aligned to the IOAS alignment 0x{alignment:X}");
        }

        if (cmd.page_size == 0 || (cmd.iova & (cmd.page_size - 1)) != 0 || (end & (cmd.page_size - 1)) != 0)
        {
            return Fail(Errno.EINVAL, $"page_size 0x{cmd.page_size:X} is zero or does not divide the range");
        }

        if (!hwpt.HasDirtyOps)
        {
            return Fail(Errno.EOPNOTSUPP, $"HWPT {hwpt.Id} was not allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING");
        }

        // iommu_read_and_clear_dirty: once the range checks pass the walk always answers 0; bits that
        // cannot reach the caller's bitmap (unmapped or read-only pages of it) are lost, the dirty
        // state is read (and cleared) all the same. Only mapped IOVA can be dirty, so the bitmap is
        // visited window by window over the areas in range, never as a whole. The walk
        // (__iommu_read_and_clear_dirty, iopt_for_each_contig_area) starts at the area holding iova
        // and goes on only while the next area begins where the last ended: a range that starts in a
        // hole reads nothing, and nothing after the first hole is read (or cleared); its -EINVAL is
        // dropped (fuzzer seed 1046).
        ulong granule = cmd.page_size & (~cmd.page_size + 1);
        using SpanOwner<ulong> rented = SpanOwner<ulong>.Allocate(DirtyWindowWords);
        bool keep = (cmd.flags & NoClear) != 0;
        ulong next = cmd.iova;
        foreach (Area area in hwpt.Ioas.Iopt.AreasIn(cmd.iova, last))
        {
            if (area.Iova > next)
            {
                break;
            }

            ulong firstWord = (Math.Max(area.Iova, cmd.iova) - cmd.iova) / granule / 64;
            ulong lastWord = (Math.Min(area.Last, last) - cmd.iova) / granule / 64;
            for (ulong word = firstWord; word <= lastWord; word += DirtyWindowWords)
            {
                int words = (int)Math.Min(DirtyWindowWords, lastWord - word + 1);
                ulong windowIova = cmd.iova + (word * 64 * granule);
                ulong span = (ulong)words * 64;
                ulong windowLast = granule > (ulong.MaxValue - windowIova) / span ? last : Math.Min(last, windowIova + (span * granule) - 1);
                Span<ulong> bits = rented.Span[..words];
                Span<byte> bytes = MemoryMarshal.AsBytes(bits);
                ulong user = cmd.data + (word * 8);
                UserAccess.ReadWhatIsMapped(user, bytes);
                ulong from = Math.Max(windowIova, area.Iova), to = Math.Min(windowLast, area.Last);     // this area's part of the window
                hwpt.Dirty.Harvest(windowIova, from, to - from + 1, granule, bits, keep);
                UserAccess.WriteWhatIsMapped(user, bytes);
            }

            if (area.Last >= last)
            {
                break;
            }

            next = area.Last + 1;
        }

        return 0;
    }

    // 32 KiB of bitmap per window: what a harvest reads and writes back at a time.
    private const int DirtyWindowWords = 4096;

    internal static int HwptInvalidate(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hwpt_invalidate cmd = ref *(iommu_hwpt_invalidate*)arg;
        uint requested = cmd.entry_num;
        cmd.entry_num = 0;
        call.CopyOutOnError = true;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        // Bounded so that one call cannot run for long: entries of at most a page, at most 2^19 of them.
        if (requested != 0 && (cmd.data_uptr == 0 || cmd.entry_len == 0 || cmd.entry_len > LinuxConstants.PageSize || requested > InvalidateEntriesMax))
        {
            return Fail(Errno.EINVAL, "entries are given without data_uptr or entry_len, or with entry_len over a page, or more than 2^19 of them");
        }

        return f.Objects.Get(cmd.hwpt_id) switch
        {
            null => Fail(Errno.ENOENT, $"no object {cmd.hwpt_id}"),
            HwptNestedObject nested => nested.Parent.Iommu.InvalidateNested(nested, ref cmd, requested),
            ViommuObject viommu => viommu.Parent.Iommu.InvalidateViommu(viommu, ref cmd, requested),
            _ => Fail(Errno.EINVAL, $"object {cmd.hwpt_id} is not a nested HWPT or a vIOMMU"),
        };
    }

    private const uint InvalidateEntriesMax = 1u << 19;

    internal static int FaultQueueAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_fault_alloc cmd = ref *(iommu_fault_alloc*)arg;
        if (cmd.flags != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"flags 0x{cmd.flags:X} are not supported (must be 0)");
        }

        if (f.Kernel.Faults.ShouldFail("fault.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: fault.alloc");
        }

        var fault = new FaultObject();
        int fd = f.Kernel.AddFile(new EventQueueObject.File(fault, f));
        if (fd < 0)
        {
            return fd;
        }

        fault.Users++;              // the open fd pins the object
        call.NewFd = fd;
        cmd.out_fault_id = f.Objects.Add(fault);
        cmd.out_fault_fd = (uint)fd;
        return 0;
    }

    /// <summary>An fd that pins its object (a fault queue's, a vEVENTQ's) was closed.</summary>
    internal void ReleasePinningFd(IommufdObject pinned)
    {
        using (EnterExclusive())
        {
            pinned.Users--;
        }
    }
}
