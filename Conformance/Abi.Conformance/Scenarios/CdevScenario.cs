using Abi.Interop;
using Abi.Linux;
using Abi.Runtime;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using Abi.Samples.Edu;

namespace Abi.Conformance.Scenarios;

/// <summary>The VFIO cdev flow on the edu device: bind, HW info, attach, ranges with a domain, device/region/IRQ info, DMA, busy objects, detach.</summary>
internal static class CdevScenario
{
    private const ulong Iova = 0x100000;

    public static void Run(Devices devices, Recorder r)
    {
        r.Scenario("cdev-edu");
        var kernel = devices.Kernel;
        int iommufd = Scenario.Open(kernel, "/dev/iommu");
        int fd = Scenario.Open(kernel, devices.EduCdev);
        if (r.Step("open /dev/iommu and the cdev", Scenario.ErrnoOf(Math.Min(iommufd, fd))) != Errno.None)
        {
            return;
        }

        var io = new IommufdIoctls(kernel, iommufd);
        var dev = new VfioDeviceIoctls(kernel, fd);
        using var device = VfioDevice.Adopt(FileDescriptor.Adopt(kernel, fd, devices.EduCdev));
        var info = new vfio_device_info { argsz = 32 };
        r.Step("DEVICE_GET_INFO before bind", dev.TryGetInfo(ref info));

        var bind = new vfio_device_bind_iommufd { argsz = 16, iommufd = iommufd };
        r.Step("BIND_IOMMUFD", dev.TryBindIommufd(ref bind), ("out_devid", bind.out_devid));
        r.Step("BIND_IOMMUFD again", dev.TryBindIommufd(ref bind));

        var hw = new iommu_hw_info { size = 32, dev_id = bind.out_devid };
        r.Step("GET_HW_INFO (no data buffer)", io.TryGetHwInfo(ref hw), ("out_data_type", hw.out_data_type), ("out_capabilities", hw.out_capabilities));

        var alloc = new iommu_ioas_alloc { size = 12 };
        r.Step("IOAS_ALLOC", io.TryIoasAlloc(ref alloc), ("ioas_id", alloc.out_ioas_id));
        using var memory = DmaBuffer.Allocate(kernel, 4 << 20, preferHugePages: false);
        ulong va = Scenario.Aligned(memory);
        const uint RwFixed = 7;
        IoasScenario.Map(r, io, "MAP 64 KiB before attach", RwFixed, alloc.out_ioas_id, va, 64 << 10, Iova);

        var attach = new vfio_device_attach_iommufd_pt { argsz = 12, pt_id = alloc.out_ioas_id };
        r.Step("ATTACH to the IOAS", dev.TryAttachIommufdPt(ref attach), ("pt_id", attach.pt_id));
        IoasScenario.Ranges(r, io, alloc.out_ioas_id, "IOVA_RANGES with the device attached");
        IoasScenario.Map(r, io, "MAP at the MSI window", RwFixed, alloc.out_ioas_id, va, 4096, 0xFEE00000);
        IoasScenario.Map(r, io, "MAP automatic 8 KiB with a domain", 6, alloc.out_ioas_id, va, 8192, 0);

        info = new vfio_device_info { argsz = 32 };
        r.Step("DEVICE_GET_INFO", dev.TryGetInfo(ref info), ("flags", info.flags), ("num_regions", info.num_regions), ("num_irqs", info.num_irqs));
        var region = new vfio_region_info { argsz = 32, index = Constants.VFIO_PCI_BAR0_REGION_INDEX };
        r.Step("REGION_INFO BAR0", dev.TryGetRegionInfo(ref region), ("size", region.size), ("flags", region.flags), ("offset", region.offset));
        region = new vfio_region_info { argsz = 32, index = Constants.VFIO_PCI_CONFIG_REGION_INDEX };
        r.Step("REGION_INFO config", dev.TryGetRegionInfo(ref region), ("size", region.size), ("flags", region.flags), ("offset", region.offset));
        region = new vfio_region_info { argsz = 32, index = 99 };
        r.Step("REGION_INFO index 99", dev.TryGetRegionInfo(ref region));
        foreach ((string name, uint index) in (ReadOnlySpan<(string, uint)>)[("INTx", Constants.VFIO_PCI_INTX_IRQ_INDEX), ("MSI", Constants.VFIO_PCI_MSI_IRQ_INDEX), ("ERR", Constants.VFIO_PCI_ERR_IRQ_INDEX), ("REQ", Constants.VFIO_PCI_REQ_IRQ_INDEX)])
        {
            var irq = new vfio_irq_info { argsz = 16, index = index };
            r.Step($"IRQ_INFO {name}", dev.TryGetIrqInfo(ref irq), ("flags", irq.flags), ("count", irq.count));
        }

        // The edu driver through the Runtime API: registers, factorial, a DMA copy through the IOMMU.
        var destroy = new iommu_destroy { size = 8, id = alloc.out_ioas_id };
        r.Step("DESTROY the IOAS while attached", io.TryDestroy(ref destroy));
        try
        {
            using var driver = new EduDriver(device);
            byte[] pattern = Enumerable.Range(0, 512).Select(i => (byte)(i * 3)).ToArray();
            Span<byte> window = memory.Slice((long)(va - (ulong)memory.Address), 64 << 10);
            pattern.CopyTo(window);
            driver.Copy(Iova, Iova + 0x4000, pattern.Length);
            bool copied = window.Slice(0x4000, pattern.Length).SequenceEqual(pattern);
            r.Step("edu: liveness, factorial, DMA copy", Errno.None, ("liveness", driver.CheckLiveness(0x12345678)), ("factorial 10", driver.Factorial(10)), ("copy intact", copied));
            r.Step("edu: the DMA-done interrupt through an eventfd", Errno.None, ("irq index", driver.InterruptIndex), ("status", driver.WaitForInterrupt(2000)));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IoctlException)
        {
            r.Step("edu: liveness, factorial, DMA copy", Errno.EIO, ("error", e.Message));
        }

        // A replace into an IOAS without a domain fills the new domain before it reserves the device's MSI
        // window (iommufd_device_do_replace; a first attach reserves first): an area over the window whose
        // memory is gone answers EFAULT, not EADDRINUSE, and the device stays where it was.
        var second = new iommu_ioas_alloc { size = 12 };
        r.Step("IOAS_ALLOC a second", io.TryIoasAlloc(ref second), ("ioas_id", second.out_ioas_id));
        var gone = DmaBuffer.Allocate(kernel, 4096, preferHugePages: false);
        IoasScenario.Map(r, io, "MAP at the second's MSI window, of memory unmapped next", 5, second.out_ioas_id, (ulong)gone.Address, 4096, 0xFEE00000);
        gone.Dispose();
        var replace = new vfio_device_attach_iommufd_pt { argsz = 12, pt_id = second.out_ioas_id };
        r.Step("ATTACH (replace) to the second IOAS", dev.TryAttachIommufdPt(ref replace), ("pt_id", replace.pt_id));

        // A HWPT with a fault queue allocates for edu, but the driver's attach enables page requests,
        // which edu (no PRI) cannot take (intel_iommu_enable_iopf).
        var fault = new iommu_fault_alloc { size = 16 };
        r.Step("FAULT_QUEUE_ALLOC", io.TryFaultQueueAlloc(ref fault), ("out_fault_id", fault.out_fault_id));
        var faulting = new iommu_hwpt_alloc { size = 48, flags = 4 /* FAULT_ID_VALID */, dev_id = bind.out_devid, pt_id = alloc.out_ioas_id, fault_id = fault.out_fault_id };
        r.Step("HWPT_ALLOC with the fault queue", io.TryHwptAlloc(ref faulting), ("out_hwpt_id", faulting.out_hwpt_id));
        var onFaulting = new vfio_device_attach_iommufd_pt { argsz = 12, pt_id = faulting.out_hwpt_id };
        r.Step("ATTACH (replace) to the HWPT with the fault queue", dev.TryAttachIommufdPt(ref onFaulting), ("pt_id", onFaulting.pt_id));
        var destroyFaulting = new iommu_destroy { size = 8, id = faulting.out_hwpt_id };
        r.Step("DESTROY the HWPT with the fault queue", io.TryDestroy(ref destroyFaulting));
        r.Step("close the fault queue", Scenario.ErrnoOf(kernel.Close((int)fault.out_fault_fd)));

        var detach = new vfio_device_detach_iommufd_pt { argsz = 8 };
        r.Step("DETACH", dev.TryDetachIommufdPt(ref detach));
        r.Step("DETACH again", dev.TryDetachIommufdPt(ref detach));
        r.Step("DESTROY the IOAS after detach", io.TryDestroy(ref destroy));
        r.Step("close iommufd", Scenario.ErrnoOf(kernel.Close(iommufd)));
    }
}
