using Abi.Interop;
using Abi.Linux;
using P = Abi.Linux.Pci.Constants;

namespace Abi.Conformance.Scenarios;

/// <summary>
/// What VFIO says about each test device: device info, every region (size, flags), every IRQ index
/// (flags, count); and how its option ROM reads (vfio_pci_bar_rw, pci_map_rom): the image's signature,
/// 0xFF at the BAR's end, EINVAL past it, ENOMEM with memory decoding off; and the MSI-X table and
/// PBA through the BAR (the table is the kernel's: vfio_pci_bar_rw reads it as 0xFF).
/// </summary>
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
                if (index == Constants.VFIO_PCI_ROM_REGION_INDEX && region.size != 0)
                {
                    ReadRom(kernel, fd, (long)region.offset, (long)region.size, r);
                }
            }

            ReadMsixTable(kernel, fd, r);
            for (uint index = 0; index < info.num_irqs; index++)
            {
                var irq = new vfio_irq_info { argsz = 16, index = index };
                r.Step($"IRQ_INFO {index}", dev.TryGetIrqInfo(ref irq), ("flags", irq.flags), ("count", irq.count));
            }

            kernel.Close(fd);
            kernel.Close(iommufd);
        }
    }

    // The image's bytes past its signature are the ROM's own (QEMU's iPXE build, the engine's minimal
    // image): only the signature and what VFIO fills in are compared.
    private static void ReadRom(Abi.Runtime.Kernel.IKernel kernel, int fd, long rom, long size, Recorder r)
    {
        Read(kernel, fd, rom, 2, r, "ROM read: signature");
        Read(kernel, fd, rom + size - 8, 16, r, "ROM read: the BAR's last bytes");
        Read(kernel, fd, rom + size, 4, r, "ROM read: past the BAR");

        long config = (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40;
        Span<byte> command = stackalloc byte[2];
        if (kernel.Pread(fd, command, config + 4) != 2)
        {
            r.Step("config read: command", Errno.EIO);
            return;
        }

        Span<byte> off = [(byte)(command[0] & ~2), command[1]];
        r.Step("config write: memory decoding off", Scenario.ErrnoOf(kernel.Pwrite(fd, off, config + 4)));
        Read(kernel, fd, rom, 2, r, "ROM read: memory decoding off");
        r.Step("config write: command restored", Scenario.ErrnoOf(kernel.Pwrite(fd, command, config + 4)));
        Read(kernel, fd, rom, 2, r, "ROM read: memory decoding on again");
    }

    // The MSI-X capability from config space (vfio_pci_core keeps the table out of BAR reads and writes).
    private static void ReadMsixTable(Abi.Runtime.Kernel.IKernel kernel, int fd, Recorder r)
    {
        long config = (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40;
        Span<byte> word = stackalloc byte[4];
        int at = kernel.Pread(fd, word[..1], config + P.PCI_CAPABILITY_LIST) == 1 ? word[0] & ~3 : 0;
        for (int hops = 0; at >= 0x40 && hops < 48; hops++)
        {
            if (kernel.Pread(fd, word[..2], config + at) != 2)
            {
                return;
            }

            if (word[0] == P.PCI_CAP_ID_MSIX)
            {
                if (kernel.Pread(fd, word, config + at + P.PCI_MSIX_TABLE) != 4)
                {
                    return;
                }

                uint table = BitConverter.ToUInt32(word);
                Read(kernel, fd, ((long)(table & P.PCI_MSIX_TABLE_BIR) << 40) + (table & P.PCI_MSIX_TABLE_OFFSET), 8, r, "BAR read: the MSI-X table's first entry");
                if (kernel.Pread(fd, word, config + at + P.PCI_MSIX_PBA) == 4)
                {
                    uint pba = BitConverter.ToUInt32(word);
                    Read(kernel, fd, ((long)(pba & P.PCI_MSIX_PBA_BIR) << 40) + (pba & P.PCI_MSIX_PBA_OFFSET), 8, r, "BAR read: the MSI-X PBA");
                }

                return;
            }

            at = word[1] & ~3;
        }
    }

    private static void Read(Abi.Runtime.Kernel.IKernel kernel, int fd, long offset, int length, Recorder r, string step)
    {
        byte[] buffer = new byte[length];
        long rc = kernel.Pread(fd, buffer, offset);
        r.Step(step, Scenario.ErrnoOf(rc), ("bytes", rc), ("data", Convert.ToHexString(buffer, 0, (int)Math.Max(rc, 0))));
    }
}
