using Abi.Interop;
using Abi.Linux;
using static Abi.Runtime.Engine.EngineDiagnostics;

namespace Abi.Runtime.Engine.Iommufd;

/// <remarks>
/// HWPTs exist only with devices, which come with the emulated PCI devices. Until a device binds,
/// these ioctls validate their argument in the kernel's order and then answer what the kernel
/// answers for a context without devices: ENOENT at the device or HWPT lookup.
/// </remarks>
internal sealed unsafe partial class IommufdFile
{
    private const uint HwptFlagsKnown = (uint)(iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_NEST_PARENT | iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING
        | iommufd_hwpt_alloc_flags.IOMMU_HWPT_FAULT_ID_VALID | iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_PASID);

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

        if (f.Objects.Get(cmd.dev_id) is not { Kind: ObjectKind.Device })
        {
            return Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device");
        }

        return Fail(Errno.EOPNOTSUPP, "HWPT allocation is not part of this engine yet");
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

        return f.Objects.Get(cmd.dev_id) is not { Kind: ObjectKind.Device }
            ? Fail(Errno.ENOENT, $"{cmd.dev_id} is not a bound device")
            : Fail(Errno.EOPNOTSUPP, "hardware info is not part of this engine yet");
    }

    internal static int HwptSetDirtyTracking(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hwpt_set_dirty_tracking cmd = ref *(iommu_hwpt_set_dirty_tracking*)arg;
        if ((cmd.flags & ~(uint)iommufd_hwpt_set_dirty_tracking_flags.IOMMU_HWPT_DIRTY_TRACKING_ENABLE) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown flags 0x{cmd.flags:X}");
        }

        return Fail(Errno.ENOENT, $"{cmd.hwpt_id} is not a paging HWPT");
    }

    internal static int HwptGetDirtyBitmap(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_hwpt_get_dirty_bitmap cmd = ref *(iommu_hwpt_get_dirty_bitmap*)arg;
        if ((cmd.flags & ~(uint)iommufd_hwpt_get_dirty_bitmap_flags.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) != 0 || cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "unknown flags or non-zero __reserved");
        }

        return Fail(Errno.ENOENT, $"{cmd.hwpt_id} is not a paging HWPT");
    }

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

        if (requested != 0 && (cmd.data_uptr == 0 || cmd.entry_len == 0))
        {
            return Fail(Errno.EINVAL, "entries are given without data_uptr or entry_len");
        }

        return f.Objects.Get(cmd.hwpt_id) is null
            ? Fail(Errno.ENOENT, $"no object {cmd.hwpt_id}")
            : Fail(Errno.EINVAL, $"object {cmd.hwpt_id} is not a nested HWPT or a vIOMMU");
    }

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
        int fd = f.Kernel.AddFile(new FaultObject.File(fault, f));
        if (fd < 0)
        {
            return fd;
        }

        fault.Users++;              // the open fd pins the object
        cmd.out_fault_id = f.Objects.Add(fault);
        cmd.out_fault_fd = (uint)fd;
        return 0;
    }

    /// <summary>The fault fd was closed: it no longer pins its object.</summary>
    internal void ReleaseFaultFd(FaultObject fault)
    {
        lock (_lock)
        {
            fault.Users--;
        }
    }
}
