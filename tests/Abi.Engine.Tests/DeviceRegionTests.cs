using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Abi.Engine.Pci;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>Device info, regions and their capability chain, config space and BAR access (drivers/vfio/pci/vfio_pci_core.c: vfio_pci_ioctl_get_info, vfio_pci_ioctl_get_region_info, vfio_pci_rw).</summary>
public sealed unsafe class DeviceRegionTests : DeviceTest
{
    [Fact]
    public void DeviceInfo_IsVfioPcis()
    {
        using VfioDevice device = OpenBound(out _);
        VfioDeviceInfo info = device.GetInfo();
        Assert.Equal((uint)(Constants.VFIO_DEVICE_FLAGS_PCI | Constants.VFIO_DEVICE_FLAGS_RESET), info.Flags);
        Assert.Equal(9u, info.RegionCount);
        Assert.Equal(5u, info.IrqCount);
        Span<byte> arg = stackalloc byte[24];
        arg.Clear();
        MemoryMarshal.Write(arg, 15u);
        Assert.Equal(-(int)Errno.EINVAL, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_INFO, arg));
    }

    [Fact]
    public void RegionInfo_NegotiatesArgszForTheMsixCapability()
    {
        using VfioDevice device = OpenBound(out _);
        Span<byte> arg = stackalloc byte[48];
        arg.Clear();
        ref vfio_region_info info = ref MemoryMarshal.AsRef<vfio_region_info>(arg);
        info.argsz = 32;
        Assert.Equal(0, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_REGION_INFO, arg));
        Assert.Equal(40u, info.argsz);                                                      // asks for room for the chain
        Assert.Equal(0u, info.cap_offset);
        Assert.Equal((uint)(1 | 2 | 4 | 8), info.flags);                                     // READ WRITE MMAP CAPS
        Assert.Equal(1ul << 20, info.size);

        info.argsz = 48;
        Assert.Equal(0, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_REGION_INFO, arg));
        Assert.Equal(32u, info.cap_offset);
        Assert.Equal((ushort)3, MemoryMarshal.Read<ushort>(arg[32..]));                      // MSIX_MAPPABLE
        Assert.Equal(0u, MemoryMarshal.Read<uint>(arg[36..]));                               // end of chain

        // The same struct asked about a region without capabilities: vfio_get_region_info writes back
        // the caller's cap_offset untouched, and only the flags say there is no chain.
        info.index = Constants.VFIO_PCI_CONFIG_REGION_INDEX;
        Assert.Equal(0, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_REGION_INFO, arg));
        Assert.Equal((32u, 3u, 256ul), (info.cap_offset, info.flags, info.size));
        info.index = 0;

        VfioRegionInfo bar1 = device.GetRegionInfo(1);
        Assert.Equal((0ul, 0u, 1ul << 40), (bar1.Size, bar1.Flags, bar1.Offset));
        VfioRegionInfo config = device.GetRegionInfo(Constants.VFIO_PCI_CONFIG_REGION_INDEX);
        Assert.Equal((256ul, 3u, 7ul << 40), (config.Size, config.Flags, config.Offset));

        info.argsz = 48;
        info.index = Constants.VFIO_PCI_VGA_REGION_INDEX;
        Assert.Equal(-(int)Errno.EINVAL, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_REGION_INFO, arg));
        info.index = 9;
        Assert.Equal(-(int)Errno.EINVAL, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_REGION_INFO, arg));
        info.argsz = 31;
        info.index = 0;
        Assert.Equal(-(int)Errno.EINVAL, Ioctl(FdOf(device), Constants.VFIO_DEVICE_GET_REGION_INFO, arg));
    }

    [Fact]
    public void OptionRom_ReadsItsImage_ThenOnesToTheBarsEnd_AndIsEinvalFromThere()
    {
        // vfio_pci_rw and vfio_pci_bar_rw: a ROM write is EINVAL, a read at or past the BAR's end is EINVAL,
        // one that starts inside is cut at the end; pci_map_rom's image is read, the rest of the BAR is 0xFF.
        var e1000e = new Abi.Engine.Devices.E1000eDevice();
        using VfioDevice device = VfioDevice.OpenCdev(Kernel.AddDevice(e1000e).CdevPath!, Kernel);
        device.BindIommufd(Iommufd);
        int fd = FdOf(device);
        VfioRegionInfo rom = device.GetRegionInfo(Constants.VFIO_PCI_ROM_REGION_INDEX);
        Assert.Equal(0x40000UL, rom.Size);
        Assert.Equal((uint)Constants.VFIO_REGION_INFO_FLAG_READ, rom.Flags);
        long at = (long)rom.Offset;
        byte[] header = new byte[0x34];
        Assert.Equal(header.Length, Kernel.Pread(fd, header, at));
        Assert.Equal([0x55, 0xAA], header[..2]);
        int pcir = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x18));
        Assert.Equal("PCIR"u8.ToArray(), header[pcir..(pcir + 4)]);
        Assert.Equal(0x8086, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(pcir + 4)));     // the function's own ids
        Assert.Equal(0x10D3, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(pcir + 6)));

        byte[] across = new byte[16];
        Assert.Equal(16, Kernel.Pread(fd, across, at + 0x200 - 8));                                // the image is one sector
        Assert.Equal(new byte[8], across[..8]);
        Assert.All(across[8..], b => Assert.Equal(0xFF, b));
        byte[] tail = new byte[16];
        Assert.Equal(8, Kernel.Pread(fd, tail, at + 0x40000 - 8));
        Assert.All(tail[..8], b => Assert.Equal(0xFF, b));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], at + 0x40000));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], at + 0x80000));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pwrite(fd, new byte[4], at));
        Assert.Equal(0, Kernel.Pread(fd, [], at + 0x40000));                                    // no bytes: 0 before the range is looked at

        // With memory decoding off, pci_map_rom reads all ones: no signature, ENOMEM, after the range check.
        uint command = device.ReadConfig32(4);
        device.WriteConfig32(4, command & ~2u);
        Assert.Equal(-(long)Errno.ENOMEM, Kernel.Pread(fd, new byte[4], at));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], at + 0x40000));
        Assert.Equal(0x40000UL, device.GetRegionInfo(Constants.VFIO_PCI_ROM_REGION_INDEX).Size);   // the look turns decoding on for itself
        device.WriteConfig32(4, command);
        Assert.Equal(4, Kernel.Pread(fd, new byte[4], at));

        using VfioDevice edu = OpenBound(out _);
        Assert.Equal(0UL, edu.GetRegionInfo(Constants.VFIO_PCI_ROM_REGION_INDEX).Size);
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(FdOf(edu), new byte[4], at));
    }

    [Fact]
    public void OptionRom_WithoutAValidImage_ShowsSizeZero_AndReadsAreEnomem()
    {
        using VfioDevice device = VfioDevice.OpenCdev(Kernel.AddDevice(new BlankRomDevice()).CdevPath!, Kernel);
        device.BindIommufd(Iommufd);
        VfioRegionInfo rom = device.GetRegionInfo(Constants.VFIO_PCI_ROM_REGION_INDEX);
        Assert.Equal(0UL, rom.Size);
        Assert.Equal(0u, rom.Flags);
        long at = (long)rom.Offset;
        Assert.Equal(-(long)Errno.ENOMEM, Kernel.Pread(FdOf(device), new byte[4], at));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(FdOf(device), new byte[4], at + 0x1000));  // the BAR's end still bounds it first
    }

    [Fact]
    public void ConfigSpaceAndBar_ReadAndWriteLikeVfioPci()
    {
        using VfioDevice device = OpenBound(out _);
        int fd = FdOf(device);
        Assert.Equal(0x11E8_1234u, device.ReadConfig32(0));
        Assert.Equal(0x3u, device.ReadConfig32(4) & 0x7);                                     // enabled: memory on (I/O from the firmware), no bus master
        Assert.Equal(-(long)Errno.EFAULT, Kernel.Pread(fd, new byte[8], (7L << 40) + 252));

        device.WriteConfig32(0x10, 0xFFFF_FFFF);                                               // BAR sizing
        Assert.Equal(0xFFF0_0000u, device.ReadConfig32(0x10));
        device.WriteConfig32(0x00, 0);                                                         // identity is read-only
        Assert.Equal(0x11E8_1234u, device.ReadConfig32(0));

        VfioRegionInfo bar0 = device.GetRegionInfo(0);
        Span<byte> value = stackalloc byte[4];
        device.ReadRegion(bar0, 0, value);
        Assert.Equal(0x0100_00EDu, MemoryMarshal.Read<uint>(value));
        device.ReadRegion(bar0, 0x80000, value);                                               // the MSI-X table is shadowed
        Assert.Equal(0xFFFF_FFFFu, MemoryMarshal.Read<uint>(value));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], 1L << 20));             // past the BAR
        Assert.Equal(4, Kernel.Pread(fd, new byte[16], (1L << 20) - 4));                        // truncated at its end
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], 1L << 40));             // BAR1 is not there
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], 9L << 40));
        Assert.Equal(0, Kernel.Pread(fd, [], 9L << 40));                                        // no bytes: 0 before the region is looked at
        Assert.Equal(0, Kernel.Pwrite(fd, [], 9L << 40));
        nint unmapped = 0x10;                                                                    // a write's region is checked before its bytes
        unsafe
        {
            Assert.Equal(-(long)Errno.EINVAL, Kernel.Pwrite(fd, new ReadOnlySpan<byte>((void*)unmapped, 4), 1L << 40));
            Assert.Equal(-(long)Errno.EINVAL, Kernel.Pwrite(fd, new ReadOnlySpan<byte>((void*)unmapped, 4), 1L << 20));
            Assert.Equal(-(long)Errno.EINVAL, Kernel.Pwrite(fd, new ReadOnlySpan<byte>((void*)unmapped, 4), 6L << 40));
            Assert.Equal(-(long)Errno.EFAULT, Kernel.Pwrite(fd, new ReadOnlySpan<byte>((void*)unmapped, 4), 0));
        }

        device.WriteConfig32(4, 0);                                                            // memory decoding off
        Assert.Equal(-(long)Errno.EIO, Kernel.Pread(fd, new byte[4], 0));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[4], 1L << 20));             // the range is checked first
        byte[] table = new byte[16];
        Assert.Equal(16, Kernel.Pread(fd, table, 0x80000));                                     // no access: the table is the kernel's
        Assert.All(table, b => Assert.Equal(0xFF, b));
        Assert.Equal(-(long)Errno.EIO, Kernel.Pread(fd, new byte[32], 0x80000 - 16));           // the access before it needs decoding
        Assert.Equal(-(nint)Errno.ENODEV, Kernel.Mmap(0, 4096, 3, 1, fd, 0));                   // trapped BARs are not memory
    }

    [Fact]
    public void Mmap_ChecksAsVfioPciCoreMmap_AndTakesAnyPageRangeOfABar()
    {
        const int ReadWrite = 3, Shared = 1, Private = 2;
        using VfioDevice unbound = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, ReadWrite, Shared, FdOf(unbound), 0));   // vfio_device_fops_mmap: no access yet
        unbound.Dispose();

        using VfioDevice device = OpenBound(out _);
        int fd = FdOf(device);
        Kernel.TrapBarMappings = true;                                                          // the interposer's way to map registers
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, ReadWrite, Private, fd, 9L << 40));  // past the regions, before MAP_SHARED
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, ReadWrite, Private, fd, 0));         // not shared
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, ReadWrite, Shared, fd, 6L << 40));   // the ROM
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, ReadWrite, Shared, fd, 7L << 40));   // config space
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, ReadWrite, Shared, fd, 1L << 40));   // BAR1 is not there
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 2 << 20, ReadWrite, Shared, fd, 0));       // longer than BAR0
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4097, ReadWrite, Shared, fd, (1 << 20) - 4096));   // the vma is page-rounded

        // The last page of BAR0 alone, and a range in its middle.
        nint last = Kernel.Mmap(0, 4096, ReadWrite, Shared, fd, (1 << 20) - 4096);
        Assert.True(last > 0);
        nint middle = Kernel.Mmap(0, 100, ReadWrite, Shared, fd, 0x2000);
        Assert.True(middle > 0);
        ulong value = 0;
        Assert.Equal(MmioResult.Performed, Kernel.MmioAccess((ulong)middle + 0x100, 4, false, ref value));   // the vma is the whole page

        // Memory decoding off: the fault handler answers SIGBUS (vfio_pci_vmf_insert_pfn).
        uint command = device.ReadConfig32(4);
        device.WriteConfig32(4, command & ~2u);
        Assert.Equal(MmioResult.BusError, Kernel.MmioAccess((ulong)middle, 4, false, ref value));
        device.WriteConfig32(4, command);
        Assert.Equal(MmioResult.Performed, Kernel.MmioAccess((ulong)middle, 4, false, ref value));

        Kernel.ForgetMemory(middle + 8, 4096);                                                   // unaligned: munmap refuses it, nothing goes
        Assert.Equal(MmioResult.Performed, Kernel.MmioAccess((ulong)middle, 4, false, ref value));
        Assert.Equal(0, Kernel.Munmap(last, 4096));
        Assert.Equal(0, Kernel.Munmap(middle, 100));
        Assert.Equal(MmioResult.NotTrapped, Kernel.MmioAccess((ulong)middle + 0x100, 4, false, ref value));

        Kernel.TrapBarMappings = false;
        Assert.Equal(-(nint)Errno.ENODEV, Kernel.Mmap(0, 4096, ReadWrite, Shared, fd, 0x1000));    // without traps, registers are not memory
    }

    [Fact]
    public void ReadAndWrite_GoThroughTheFilePosition_FromBar0()
    {
        // vfs_read passes f_pos, which vfio_pci_rw advances; the position starts at 0, BAR0's first byte.
        using VfioDevice device = OpenBound(out _);
        int fd = FdOf(device);
        byte[] word = new byte[4];
        Assert.Equal(4, Kernel.Read(fd, word));
        Assert.Equal(0x010000EDu, BinaryPrimitives.ReadUInt32LittleEndian(word));            // edu's id register
        Assert.Equal(4, Kernel.Write(fd, BitConverter.GetBytes(0x12345678u)));                // at 4: the liveness register
        Assert.Equal(4, Kernel.Read(fd, word));                                               // at 8: the factorial register
        Assert.Equal(4, Kernel.Pread(fd, word, 4));                                           // pread leaves the position alone
        Assert.Equal(~0x12345678u, BinaryPrimitives.ReadUInt32LittleEndian(word));
        Assert.Equal(12, ((EngineFile)Kernel.FileOf(fd)!).Position);
        Assert.Equal(0, Kernel.Read(fd, Span<byte>.Empty));
        Assert.Equal(-(long)Errno.EFAULT, Kernel.Read(fd, new Span<byte>((void*)0x1000, 4)));   // nothing answered: the position stays
        Assert.Equal(12, ((EngineFile)Kernel.FileOf(fd)!).Position);

        // A read running past BAR0 is cut at its end; from there on it is EINVAL (vfio_pci_bar_rw).
        Assert.Equal(4, Kernel.Read(fd, new byte[4]));
        byte[] rest = new byte[(1 << 20) - 16 + 64];
        Assert.Equal((1 << 20) - 16, Kernel.Read(fd, rest));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Read(fd, word));
    }

    [Fact]
    public void ASysfsAttributesRead_MovesThePosition_OnlyWhenItAnswers()
    {
        // kernfs's seq_read_iter stores the moved position only for what reached the caller.
        int fd = Kernel.Open(SysfsFiles.Z($"/sys/bus/pci/devices/{Node.PciName}/vendor"), LinuxConstants.O_RDONLY, 0);
        Assert.True(fd >= 0);
        try
        {
            byte[] two = new byte[2];
            Assert.Equal(-(long)Errno.EFAULT, Kernel.Read(fd, new Span<byte>((void*)0x1000, 4)));
            Assert.Equal(2, Kernel.Read(fd, two));
            Assert.Equal("0x"u8.ToArray(), two);
            Assert.Equal(2, Kernel.Read(fd, two));
            Assert.Equal("12"u8.ToArray(), two);                                              // 0x1234, QEMU's vendor
            Assert.Equal(4, ((EngineFile)Kernel.FileOf(fd)!).Position);
        }
        finally
        {
            Assert.Equal(0, Kernel.Close(fd));
        }
    }

    [Fact]
    public void Poll_OfVfioAndIommufdFds_IsReady_AndAReadOnlyFdMapsNothingShared()
    {
        using VfioDevice device = OpenBound(out _);
        int fd = FdOf(device);
        Span<PollFd> fds = [new PollFd { Fd = fd, Events = (short)(LinuxConstants.POLLIN | LinuxConstants.POLLPRI) }, new PollFd { Fd = (int)Iommufd.Fd.DangerousGetHandle(), Events = LinuxConstants.POLLOUT }];
        Assert.Equal(2, Kernel.Poll(fds, -1));
        Assert.Equal(LinuxConstants.POLLIN, fds[0].ReturnedEvents);                           // DEFAULT_POLLMASK has no POLLPRI
        Assert.Equal(LinuxConstants.POLLOUT, fds[1].ReturnedEvents);
        device.Dispose();

        // do_mmap drops VM_SHARED for a file not open for writing: vfio_pci_core_mmap refuses the mapping.
        using VfioDevice readOnly = VfioDevice.Adopt(Abi.Runtime.FileDescriptor.Open(Kernel, Node.CdevPath!, LinuxConstants.O_RDONLY | LinuxConstants.O_CLOEXEC));
        readOnly.BindIommufd(Iommufd);
        Kernel.TrapBarMappings = true;
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_SHARED, FdOf(readOnly), 0));
        Assert.Equal(-(nint)Errno.EACCES, Kernel.Mmap(0, 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, FdOf(readOnly), 0));
    }

    [Fact]
    public void EduBar_AnswersAccessWidthsAsQemusModelDoes()
    {
        // edu's MemoryRegionOps take 4 and 8 bytes: QEMU's memory core gives 0 for narrower reads and
        // drops narrower writes; the model answers ~0 to 8 bytes below 0x80. vfio-pci splits a read by alignment.
        using VfioDevice device = OpenBound(out _);
        int fd = FdOf(device);
        byte[] bytes = new byte[16];
        Assert.Equal(2, Kernel.Pread(fd, bytes.AsSpan(0, 2), 0));
        Assert.Equal(0, BitConverter.ToUInt16(bytes));
        Assert.Equal(8, Kernel.Pread(fd, bytes.AsSpan(0, 8), 0));
        Assert.Equal(ulong.MaxValue, BitConverter.ToUInt64(bytes));
        Assert.Equal(4, Kernel.Pwrite(fd, [1, 2, 3, 4], 0x04));                                   // one 4-byte write
        Assert.Equal(2, Kernel.Pwrite(fd, [9, 9], 0x04));                                         // dropped
        Assert.Equal(16, Kernel.Pread(fd, bytes, 0x04));                                          // 4 + 8 + 4 bytes
        Assert.Equal(~0x0403_0201u, BitConverter.ToUInt32(bytes));
        Assert.All(bytes[4..], b => Assert.Equal(0xFF, b));
    }

    [Fact]
    public void Reset_ReturnsTheModelToPowerOn()
    {
        using VfioDevice device = OpenBound(out _);
        using MmioRegion bar = device.MapRegion(device.GetRegionInfo(0));
        bar.Write32(0x04, 5);
        Assert.Equal(~5u, bar.Read32(0x04));
        device.Reset();
        Assert.Equal(0u, bar.Read32(0x04));                                                     // as before any write
        Assert.Equal(0x2u, device.ReadConfig32(4) & 0x2);                                       // config space is restored
    }

    /// <summary>A function whose 4 KiB ROM BAR holds zeros where the 55 AA signature should be.</summary>
    private sealed class BlankRomDevice : PciDevice
    {
        public BlankRomDevice()
            : base(vendorId: 0x1234, deviceId: 0x0002, classCode: 0xFF0000) => AddOptionRom(0x1000, new byte[64]);
    }
}
