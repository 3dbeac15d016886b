using System.Runtime.InteropServices;
using Abi.Engine.Iommufd;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>The VFIO cdev flow against iommufd (drivers/iommu/iommufd/device.c and drivers/vfio/device_cdev.c).</summary>
public sealed class CdevTests : DeviceTest
{
    [Fact]
    public void UnboundCdev_RefusesEverythingButBind()
    {
        using VfioDevice device = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);
        var info = new vfio_device_info();
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryGetInfo(ref info));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(FdOf(device), new byte[4], 7L << 40));
        Assert.Equal(-(int)Errno.ENOENT, Kernel.Open("/dev/vfio/devices/vfio9\0"u8, 2, 0));
    }

    [Fact]
    public void Bind_ValidatesLikeTheKernel()
    {
        using VfioDevice device = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);
        int fd = FdOf(device);
        Span<byte> arg = stackalloc byte[32];
        arg.Clear();

        MemoryMarshal.Write(arg, 15u);
        Assert.Equal(-(int)Errno.EINVAL, Ioctl(fd, Constants.VFIO_DEVICE_BIND_IOMMUFD, arg));       // argsz < 16
        MemoryMarshal.Write(arg, 32u);
        arg[28] = 1;
        Assert.Equal(-(int)Errno.E2BIG, Ioctl(fd, Constants.VFIO_DEVICE_BIND_IOMMUFD, arg));        // non-zero tail
        arg[28] = 0;

        // The TOKEN flag with an argsz that stops before token_uuid_ptr: no argsz check of its own, the
        // zero-filled pointer is what fails (vfio_df_check_token's copy_from_user of NULL).
        MemoryMarshal.Write(arg, 16u);
        MemoryMarshal.Write(arg[4..], (uint)Constants.VFIO_DEVICE_BIND_FLAG_TOKEN);
        MemoryMarshal.Write(arg[8..], (int)Iommufd.Fd.DangerousGetHandle());
        MemoryMarshal.Write(arg[16..], 0x1000ul);
        Assert.Equal(-(int)Errno.EFAULT, Ioctl(fd, Constants.VFIO_DEVICE_BIND_IOMMUFD, arg));
        arg.Clear();

        var bind = new vfio_device_bind_iommufd { iommufd = -1 };
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryBindIommufd(ref bind));
        bind = new vfio_device_bind_iommufd { iommufd = (int)Iommufd.Fd.DangerousGetHandle(), flags = 2 };
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryBindIommufd(ref bind));                    // unknown flag
        bind = new vfio_device_bind_iommufd { iommufd = 100_000 };
        Assert.Equal(Errno.EBADF, RawDevice(device).TryBindIommufd(ref bind));
        int devnull = LinuxKernel.Instance.Open("/dev/null\0"u8, 0, 0);
        bind = new vfio_device_bind_iommufd { iommufd = devnull };
        Assert.Equal(Errno.EBADFD, RawDevice(device).TryBindIommufd(ref bind));
        LinuxKernel.Instance.Close(devnull);
        int writeOnly = LinuxKernel.Instance.Open("/dev/null\0"u8, 1, 0);                         // O_WRONLY: open, not readable
        bind = new vfio_device_bind_iommufd { iommufd = writeOnly };
        Assert.Equal(Errno.EBADFD, RawDevice(device).TryBindIommufd(ref bind));
        LinuxKernel.Instance.Close(writeOnly);
        int pathOnly = LinuxKernel.Instance.Open("/dev/null\0"u8, LinuxConstants.O_PATH, 0);                  // names the file: fget refuses it
        bind = new vfio_device_bind_iommufd { iommufd = pathOnly };
        Assert.Equal(Errno.EBADF, RawDevice(device).TryBindIommufd(ref bind));
        LinuxKernel.Instance.Close(pathOnly);

        uint id = device.BindIommufd(Iommufd);
        Assert.True(id > 0);
        bind = new vfio_device_bind_iommufd { iommufd = (int)Iommufd.Fd.DangerousGetHandle() };
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryBindIommufd(ref bind));                    // bound already

        using VfioDevice second = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);                       // open works...
        Assert.Equal(Errno.EINVAL, RawDevice(second).TryBindIommufd(ref bind));                    // ...a second bind does not

        var destroy = new iommu_destroy { id = id };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));                                     // VFIO owns the device object
    }

    [Fact]
    public void Attach_ToAnIoas_MakesOneAutomaticHwpt_ReservesTheMsiWindow_AndDiesWithTheDevice()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        VfioDevice device = OpenBound(out uint deviceId);

        var attach = new vfio_device_attach_iommufd_pt { pt_id = 999 };
        Assert.Equal(Errno.ENOENT, RawDevice(device).TryAttachIommufdPt(ref attach));
        attach.pt_id = deviceId;
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryAttachIommufdPt(ref attach));              // a device is no page table
        attach = new vfio_device_attach_iommufd_pt { pt_id = ioas.Id, flags = 2 };
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryAttachIommufdPt(ref attach));

        uint hwpt = device.Attach(ioas.Id);
        Assert.NotEqual(ioas.Id, hwpt);
        Assert.Equal(hwpt, device.Attach(ioas.Id));                                                  // replace with the same: no-op

        (IReadOnlyList<IovaRange> ranges, ulong alignment) = ioas.GetIovaRanges();
        Assert.Equal(4096ul, alignment);
        Assert.Equal([new IovaRange(0, 0xFEDF_FFFF), new IovaRange(0xFEF0_0000, 0xFFFF_FFFF_FFFF)], ranges);
        var map = Map(ioas.Id, (ulong)memory.Address, 4096, 0xFEE0_0000);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMap(ref map));                                         // the MSI window is reserved
        map = Map(ioas.Id, (ulong)memory.Address + 1, 4095, 0x10000);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMap(ref map));                                         // a domain needs page alignment

        var destroy = new iommu_destroy { id = ioas.Id };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));
        destroy.id = hwpt;
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));                                      // the device uses it

        using Ioas other = Iommufd.AllocIoas();
        uint moved = device.Attach(other.Id);                                                         // replace to another IOAS
        Assert.NotEqual(hwpt, moved);
        Assert.Equal(Errno.ENOENT, Raw.TryDestroy(ref destroy));                                     // the old automatic HWPT is gone
        Assert.Equal(1ul, ioas.GetIovaRanges().Alignment);
        Assert.Single(ioas.GetIovaRanges().Ranges);                                                   // its reservations left with it

        device.Detach();
        device.Detach();                                                                              // silent when detached
        Assert.False(Edu.Dma.IsAttached);
        uint again = device.Attach(other.Id);
        device.Dispose();                                                                             // close unbinds and detaches
        destroy.id = again;
        Assert.Equal(Errno.ENOENT, Raw.TryDestroy(ref destroy));
        Assert.Equal(0, Context.Objects.All().Count(o => o.Kind is ObjectKind.Device or ObjectKind.HwptPaging));
    }

    [Fact]
    public void Attach_FailsWithEaddrinuse_WhenTheIoasAlreadyUsesReservedIova_AndChangesNothing()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address, 4096, 0xFEE0_1000);
        using VfioDevice device = OpenBound(out _);
        var attach = new vfio_device_attach_iommufd_pt { pt_id = ioas.Id };
        Assert.Equal(Errno.EADDRINUSE, RawDevice(device).TryAttachIommufdPt(ref attach));
        Assert.False(Edu.Dma.IsAttached);
        Assert.DoesNotContain(Context.Objects.All(), o => o.Kind == ObjectKind.HwptPaging);
        Assert.Equal(1ul, ioas.GetIovaRanges().Alignment);
    }

    [Fact]
    public void Replace_ToAnIoasWithoutADomain_FillsTheDomainBeforeReservingTheMsiWindow()
    {
        // iommufd_device_do_replace reserves the device's MSI window only after iommufd_hwpt_paging_alloc
        // filled the new automatic domain (a first attach reserves first, as the test above shows): an
        // area over the window whose memory is gone answers EFAULT, not EADDRINUSE.
        using Ioas first = Iommufd.AllocIoas();
        using Ioas second = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out _);
        uint hwpt = device.Attach(first.Id);
        var memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        second.Map(memory.Address, 4096, 0xFEE0_0000, iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);  // nothing pinned yet
        memory.Dispose();

        var attach = new vfio_device_attach_iommufd_pt { pt_id = second.Id };
        Assert.Equal(Errno.EFAULT, RawDevice(device).TryAttachIommufdPt(ref attach));
        Assert.Single(Context.Objects.All(), o => o.Kind == ObjectKind.HwptPaging);          // no domain was left behind
        Assert.Equal(hwpt, device.Attach(first.Id));                                        // still on its old HWPT
        Assert.True(Edu.Dma.IsAttached);
    }

    [Fact]
    public void HwptWithAFaultQueue_AllocatesForEdu_ButCannotAttach_ForEduHasNoPri()
    {
        // intel_iommu_attach_device → iopf_for_domain_replace → intel_iommu_enable_iopf: ENODEV without
        // PRI enabled on the device; the device stays where it was.
        using Ioas ioas = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out uint deviceId);
        uint hwpt = device.Attach(ioas.Id);
        var fault = new iommu_fault_alloc();
        Assert.Equal(Errno.None, Raw.TryFaultQueueAlloc(ref fault));
        var alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, flags = 4 /* FAULT_ID_VALID */, fault_id = fault.out_fault_id };
        Assert.Equal(Errno.None, Raw.TryHwptAlloc(ref alloc));

        var attach = new vfio_device_attach_iommufd_pt { pt_id = alloc.out_hwpt_id };
        Assert.Equal(Errno.ENODEV, RawDevice(device).TryAttachIommufdPt(ref attach));
        Assert.Equal(hwpt, device.Attach(ioas.Id));                                         // still on its automatic HWPT
        var destroy = new iommu_destroy { id = alloc.out_hwpt_id };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));
        Assert.Equal(0, Kernel.Close((int)fault.out_fault_fd));
    }

    [Fact]
    public void ExplicitHwpt_AllocValidatesInTheKernelsOrder_AndOutlivesItsDevices()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        VfioDevice device = OpenBound(out uint deviceId);

        var alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, __reserved = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptAlloc(ref alloc));
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, data_type = 1 };
        Assert.Equal(Errno.EINVAL, Raw.TryHwptAlloc(ref alloc));                                     // type without data
        alloc = new iommu_hwpt_alloc { dev_id = 77, pt_id = ioas.Id };
        Assert.Equal(Errno.ENOENT, Raw.TryHwptAlloc(ref alloc));
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = 77 };
        Assert.Equal(Errno.EINVAL, Raw.TryHwptAlloc(ref alloc));                                     // a missing pt_id is EINVAL
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, flags = 0x10 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptAlloc(ref alloc));
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, flags = 1 | 4 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptAlloc(ref alloc));                                 // NEST_PARENT with a fault queue
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, flags = 4, fault_id = 55 };
        Assert.Equal(Errno.ENOENT, Raw.TryHwptAlloc(ref alloc));
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id, flags = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptAlloc(ref alloc));                                 // intel: no nesting, so no nesting parent
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = ioas.Id };
        Assert.Equal(Errno.None, Raw.TryHwptAlloc(ref alloc));
        uint parent = alloc.out_hwpt_id;
        alloc = new iommu_hwpt_alloc { dev_id = deviceId, pt_id = parent, data_type = 1, data_len = 24, data_uptr = 8 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptAlloc(ref alloc));                                 // no nesting on this IOMMU
        Assert.Equal(0, Context.Objects.All().Count(o => o.Kind == ObjectKind.HwptNested));

        Assert.Equal(parent, device.Attach(parent));
        var destroy = new iommu_destroy { id = parent };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));
        device.Dispose();
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));                                       // explicit: lives until destroyed
    }

    [Fact]
    public unsafe void GetHwInfo_ReportsTheEnginesVtdUnit_AndZeroFillsTheCallersBuffer()
    {
        using VfioDevice device = OpenBound(out uint deviceId);
        byte[] data = new byte[40];
        data.AsSpan().Fill(0xAA);
        fixed (byte* p = data)
        {
            var info = new iommu_hw_info { dev_id = deviceId, data_len = 40, data_uptr = (ulong)p };
            Assert.Equal(Errno.None, Raw.TryGetHwInfo(ref info));
            Assert.Equal(24u, info.data_len);
            Assert.Equal((uint)iommu_hw_info_type.IOMMU_HW_INFO_TYPE_INTEL_VTD, info.out_data_type);
            Assert.Equal(1ul | 8ul, info.out_capabilities);                                            // dirty tracking, no ATS
            ref iommu_hw_info_vtd vtd = ref MemoryMarshal.AsRef<iommu_hw_info_vtd>(data.AsSpan());
            Assert.Equal(48, (int)((vtd.cap_reg >> 16) & 0x3F) + 1);                                    // MGAW
            Assert.Equal(1ul, (vtd.ecap_reg >> 45) & 1);                                               // second-stage A/D bits
            Assert.All(data[24..], b => Assert.Equal(0, b));                                           // the rest zero-filled

            info = new iommu_hw_info { dev_id = deviceId, flags = 1, in_data_type = (uint)iommu_hw_info_type.IOMMU_HW_INFO_TYPE_ARM_SMMUV3 };
            Assert.Equal(Errno.EOPNOTSUPP, Raw.TryGetHwInfo(ref info));
            info = new iommu_hw_info { dev_id = deviceId, flags = 2 };
            Assert.Equal(Errno.EOPNOTSUPP, Raw.TryGetHwInfo(ref info));
            info = new iommu_hw_info { dev_id = 99 };
            Assert.Equal(Errno.ENOENT, Raw.TryGetHwInfo(ref info));
            info = new iommu_hw_info { dev_id = deviceId, data_len = 0 };
            Assert.Equal(Errno.None, Raw.TryGetHwInfo(ref info));
            Assert.Equal(24u, info.data_len);
        }
    }
}
