using Abi.Interop;
using Abi.Linux;

namespace Abi.Conformance.Scenarios;

/// <summary>What VFIO says about each test device: device info, every region (size, flags), every IRQ index (flags, count).</summary>
internal static class InventoryScenario
{
    public static void Run(Devices devices, Recorder r)
    {
        foreach ((string name, string cdev) in devices.Inventory)
        {
            r.Scenario($"inventory-{name}");
            var kernel = devices.Kernel;
            int iommufd = Scenario.Open(kernel, "/dev/iommu");
            int fd = Scenario.Open(kernel, cdev);
            if (r.Step("open", Scenario.ErrnoOf(Math.Min(iommufd, fd))) != Errno.None)
            {
                continue;
            }

            var dev = new VfioDeviceIoctls(kernel, fd);
            var bind = new vfio_device_bind_iommufd { argsz = 16, iommufd = iommufd };
            r.Step("BIND_IOMMUFD", dev.TryBindIommufd(ref bind));
            var info = new vfio_device_info { argsz = 32 };
            r.Step("DEVICE_GET_INFO", dev.TryGetInfo(ref info), ("flags", info.flags), ("num_regions", info.num_regions), ("num_irqs", info.num_irqs));
            for (uint index = 0; index < info.num_regions; index++)
            {
                var region = new vfio_region_info { argsz = 32, index = index };
                r.Step($"REGION_INFO {index}", dev.TryGetRegionInfo(ref region), ("size", region.size), ("flags", region.flags));
            }

            for (uint index = 0; index < info.num_irqs; index++)
            {
                var irq = new vfio_irq_info { argsz = 16, index = index };
                r.Step($"IRQ_INFO {index}", dev.TryGetIrqInfo(ref irq), ("flags", irq.flags), ("count", irq.count));
            }

            kernel.Close(fd);
            kernel.Close(iommufd);
        }
    }
}
