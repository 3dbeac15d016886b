using System.Runtime.InteropServices;
using Abi.Engine.Devices;
using Abi.Engine.Pci;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using Abi.Samples.Edu;

namespace Abi.Engine.Tests;

/// <summary>
/// One driver scenario in the five modes of the kernel's VFIO selftests (type1, type1v2,
/// iommufd-compat type1, iommufd-compat type1v2, iommufd native), asserting the rows of the
/// differences Documentation/userspace-api/iommufd.rst and vfio_compat.c list where the modes differ.
/// </summary>
public sealed unsafe class ContainerModesTests
{
    public enum Mode
    {
        Type1,
        Type1v2,
        CompatType1,
        CompatType1v2,
        Native,
    }

    private const ulong Iova = 0x10_0000;
    private const ulong Size = 4 * 4096;
    private const int ReadWrite = LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE;

    public static TheoryData<Mode> AllModes => new(Enum.GetValues<Mode>());

    public static TheoryData<Mode> ContainerModes => new(Mode.Type1, Mode.Type1v2, Mode.CompatType1, Mode.CompatType1v2);

    [Theory]
    [MemberData(nameof(AllModes))]
    public void EduDriver_RunsUnchanged_InEveryMode(Mode mode)
    {
        using var setup = new Setup(mode);
        Assert.Equal(0, setup.Map(Iova, Size));
        using var driver = new EduDriver(setup.Device);
        byte[] payload = Enumerable.Range(0, 4096).Select(i => (byte)(i ^ 0x5A)).ToArray();
        payload.CopyTo(setup.Memory.Slice(0, 4096));
        driver.Copy(Iova, Iova + (2 * 4096), 4096);
        Assert.Equal(payload, setup.Memory.Slice(2 * 4096, 4096).ToArray());
        Assert.Equal(0x100u, driver.WaitForInterrupt(1000));
        Assert.Equal(0, setup.Edu.Dma.Faults);

        setup.Unmap(0, 0, all: true);
        driver.WriteToMemory(Iova, 16);
        Assert.Equal(1, setup.Edu.Dma.Faults);                                        // unmapped: the device faults
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public void UnmapRows_FollowTheComparisonTable(Mode mode)
    {
        using var setup = new Setup(mode);

        // Unmap the middle of a mapping.
        Assert.Equal(0, setup.Map(Iova, Size));
        (int rc, ulong size) = setup.Unmap(Iova + 4096, 4096);
        (int, ulong) expected = mode switch
        {
            Mode.Type1 => (0, 0),                              // success, nothing removed
            Mode.Type1v2 => (-(int)Errno.EINVAL, 0),
            Mode.CompatType1 => (0, 4096),                     // a hole is punched
            _ => (-(int)Errno.ENOENT, 0),                      // compat v2 and native never split
        };
        Assert.Equal(expected, (rc, size));
        setup.Unmap(0, 0, all: true);

        // A range covering the start of a mapping and ending inside it.
        Assert.Equal(0, setup.Map(Iova, Size));
        (rc, size) = setup.Unmap(Iova, 4096);
        expected = mode switch
        {
            Mode.Type1 => (0, Size),                           // the whole mapping goes
            Mode.Type1v2 => (-(int)Errno.EINVAL, 0),
            Mode.CompatType1 => (0, 4096),                     // split at the end
            _ => (-(int)Errno.ENOENT, 0),
        };
        Assert.Equal(expected, (rc, size));
        setup.Unmap(0, 0, all: true);

        // An empty range.
        (rc, size) = setup.Unmap(Iova, Size);
        Assert.Equal(mode == Mode.Native ? (-(int)Errno.ENOENT, 0ul) : (0, 0ul), (rc, size));

        // Map with neither READ nor WRITE: type1 and IOMMU_IOAS_MAP refuse it up front; the compat layer
        // lets it through, but with the device's domain attached the page table's map refuses it
        // (generic_pt/iommu_pt.h: map_pages needs IOMMU_READ or IOMMU_WRITE), so every mode answers EINVAL.
        Assert.Equal(-(int)Errno.EINVAL, setup.Map(Iova, 4096, access: 0));
    }

    [Fact]
    public void CompatType1_ACutAtAMappingsFirstByte_CutsNothing()
    {
        // io_pagetable.c: iopt_area_split does nothing at an area's first or last byte, before any
        // alignment check, so the unmap that follows finds the mapping sticking out of the range:
        // ENOENT, with the 0 it unmapped written back. The engine checked the alignment first (EINVAL).
        using var setup = new Setup(Mode.CompatType1);
        Assert.Equal(0, setup.Map(Iova, Size));
        Assert.Equal((-(int)Errno.ENOENT, 0ul), setup.Unmap(Iova - 4096, 4097));
        Assert.Equal((0, Size), setup.Unmap(Iova, Size));
    }

    [Theory]
    [MemberData(nameof(ContainerModes))]
    public void ContainerRows_FollowTheComparisonTable(Mode mode)
    {
        using var setup = new Setup(mode);
        bool compat = mode is Mode.CompatType1 or Mode.CompatType1v2;
        int container = setup.ContainerFd;
        Assert.Equal(0, setup.Kernel.Ioctl(container, Constants.VFIO_GET_API_VERSION, 0));
        Assert.Equal(compat ? 0 : 1, setup.Kernel.Ioctl(container, Constants.VFIO_CHECK_EXTENSION, Constants.VFIO_UPDATE_VADDR));
        Assert.Equal(compat ? 0 : -(int)Errno.EINVAL, setup.Kernel.Ioctl(container, Constants.VFIO_SET_IOMMU, mode is Mode.Type1 or Mode.CompatType1 ? 1 : 3));   // twice

        // GET_INFO: capabilities, and argsz when the chain fits.
        byte[] info = new byte[512];
        MemoryMarshal.Write(info, 512u);
        Assert.Equal(0, Ioctl(setup, Constants.VFIO_IOMMU_GET_INFO, info));
        ref vfio_iommu_type1_info header = ref MemoryMarshal.AsRef<vfio_iommu_type1_info>(info.AsSpan());
        Assert.Equal(compat ? 24u + 16 + 16 + 32 : 512u, header.argsz);
        Assert.Equal(24u, header.cap_offset);
        var ids = new List<ushort>();
        for (uint at = header.cap_offset; at != 0; at = MemoryMarshal.Read<uint>(info.AsSpan((int)at + 4)))
        {
            ids.Add(MemoryMarshal.Read<ushort>(info.AsSpan((int)at)));
        }

        Assert.Equal(compat ? [3, 1] : [2, 3, 1], ids);                            // DMA_AVAIL, IOVA_RANGE (+ MIGRATION first on type1)

        // VADDR, dirty pages.
        Assert.Equal(0, setup.Map(Iova, Size));
        (int rc, ulong size) = setup.Unmap(Iova, Size, flags: 4);
        Assert.Equal(compat ? -(int)Errno.EINVAL : 0, rc);                         // compat refuses VADDR
        Assert.Equal(Size, size);                                                  // type1 invalidated it all (compat left the input as it was)
        byte[] dirty = new byte[8];
        MemoryMarshal.Write(dirty, 8u);
        MemoryMarshal.Write(dirty.AsSpan(4), 1u);                                   // START
        Assert.Equal(mode switch { Mode.Type1 => -(int)Errno.EACCES, Mode.Type1v2 => 0, _ => -(int)Errno.ENOTTY }, Ioctl(setup, Constants.VFIO_IOMMU_DIRTY_PAGES, dirty));
    }

    [Theory]
    [MemberData(nameof(ContainerModes))]
    public void LastGroupLeaving_DropsType1Mappings_ButNotTheCompatIoas(Mode mode)
    {
        using var setup = new Setup(mode);
        Assert.Equal(0, setup.Map(Iova, Size));
        setup.Device.Dispose();
        setup.Group.UnsetContainer();
        setup.Group.SetContainer(setup.Container!);
        if (mode is Mode.Type1 or Mode.Type1v2)
        {
            Assert.Equal(-(int)Errno.EINVAL, setup.Map(Iova, Size));               // no backend any more
            setup.Container!.SetIommu(mode == Mode.Type1 ? 1u : 3u);
            Assert.Equal(0, setup.Map(Iova, Size));                               // the old mapping is gone
        }
        else
        {
            Assert.Equal(-(int)Errno.EEXIST, setup.Map(Iova, Size));              // the compat IOAS kept it
        }
    }

    [Theory]
    [InlineData(ContainerBackend.Type1)]
    [InlineData(ContainerBackend.Iommufd)]
    public void BeforeSetIommu_RowsDifferBetweenType1AndCompat(ContainerBackend backend)
    {
        bool compat = backend == ContainerBackend.Iommufd;
        var kernel = new EmulatedKernel(backend);
        var node = kernel.AddDevice(new EduDevice());
        using VfioContainer container = VfioContainer.Open(kernel);
        int fd = (int)container.Fd.DangerousGetHandle();
        Assert.Equal(compat ? -(int)Errno.ENODEV : -(int)Errno.EINVAL, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, 3));      // no group yet

        using VfioGroup group = VfioGroup.Open(node.GroupPath, kernel);
        group.SetContainer(container);
        Assert.Equal(compat ? -(int)Errno.EINVAL : -(int)Errno.ENODEV, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, 2));      // SPAPR: unsupported type
        var info = new vfio_iommu_type1_info { argsz = 24 };
        Assert.Equal(compat ? 0 : -(int)Errno.EINVAL, kernel.Ioctl(fd, Constants.VFIO_IOMMU_GET_INFO, (nint)(&info)));     // container ioctl before SET_IOMMU
        int groupFd = (int)group.Fd.DangerousGetHandle();
        int deviceFd;
        fixed (byte* name = System.Text.Encoding.ASCII.GetBytes(node.PciName + "\0"))
        {
            deviceFd = kernel.Ioctl(groupFd, Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)name);                              // GET_DEVICE_FD before SET_IOMMU
            Assert.Equal(compat, deviceFd >= 0);                                                                             // (compat: the open device keeps its MSI window reserved)
        }

        fixed (byte* wrong = "0000:00:1f.0\0"u8)
        {
            container.SetIommu(3);
            Assert.Equal(-(int)Errno.ENODEV, kernel.Ioctl(groupFd, Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)wrong));
        }

        using var memory = DmaBuffer.Allocate(kernel, 4096, preferHugePages: false);
        var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = 3, vaddr = (ulong)memory.Address, iova = 0xFEE0_0000, size = 4096 };
        Assert.Equal(-(int)Errno.EINVAL, kernel.Ioctl(fd, Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map)));                     // outside the valid IOVA (MSI window)
        map.iova = 0x10000;
        Assert.Equal(0, kernel.Ioctl(fd, Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map)));

        // UNMAP with GET_DIRTY_BITMAP: type1v2 with tracking on; compat refuses the flag.
        ulong bits = 0;
        byte* unmap = stackalloc byte[48];
        new Span<byte>(unmap, 48).Clear();
        *(vfio_iommu_type1_dma_unmap*)unmap = new vfio_iommu_type1_dma_unmap { argsz = 48, flags = 1, iova = 0x10000, size = 4096 };
        *(vfio_bitmap*)(unmap + 24) = new vfio_bitmap { pgsize = 4096, size = 8, data = &bits };
        if (!compat)
        {
            var start = new vfio_iommu_type1_dirty_bitmap { argsz = 8, flags = 1 };
            Assert.Equal(0, kernel.Ioctl(fd, Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)(&start)));
        }

        Assert.Equal(compat ? -(int)Errno.EINVAL : 0, kernel.Ioctl(fd, Constants.VFIO_IOMMU_UNMAP_DMA, (nint)unmap));
        Assert.Equal(compat ? 0ul : 1ul, bits);                                                                              // type1 reports every mapped page dirty
        if (deviceFd >= 0)
        {
            kernel.Close(deviceFd);
        }
    }

    [Fact]
    public void Type1_EnforcesTheEntryLimit_CompatHasNone()
    {
        using var type1 = new Setup(Mode.Type1v2, entryLimit: 2);
        using var compat = new Setup(Mode.CompatType1v2, entryLimit: 2);
        for (ulong i = 0; i < 2; i++)
        {
            Assert.Equal(0, type1.Map(Iova + (i * 4096), 4096));
            Assert.Equal(0, compat.Map(Iova + (i * 4096), 4096));
        }

        Assert.Equal(-(int)Errno.ENOSPC, type1.Map(Iova + (2 * 4096), 4096));
        Assert.Equal(0, compat.Map(Iova + (2 * 4096), 4096));

        // The limit is the module parameter's value when the container's backend was set
        // (vfio_iommu_type1_open: dma_avail); raising it later changes nothing for this container.
        type1.Kernel.Type1DmaEntryLimit = 10;
        Assert.Equal(-(int)Errno.ENOSPC, type1.Map(Iova + (2 * 4096), 4096));
    }

    private static int Ioctl(Setup setup, uint request, byte[] argument)
    {
        fixed (byte* p = argument)
        {
            return setup.Kernel.Ioctl(setup.ContainerFd, request, (nint)p);
        }
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public void AccountingAndHugeIoptes_FollowTheComparisonTable(Mode mode)
    {
        using var setup = new Setup(mode);
        PinAccounting accounting = setup.Kernel.Accounting;
        accounting.HasIpcLock = false;
        accounting.LimitPages = 1 << 20;

        // The same memory mapped twice: each mapping is charged, in VmLck for type1 and for an
        // iommufd serving the container, in the per-user counter for native iommufd.
        Assert.Equal(0, setup.Map(Iova, Size));
        Assert.Equal(0, setup.Map(Iova + 0x10_0000, Size));
        long both = 2 * (long)(Size / 4096);
        (long User, long Mm) expected = mode == Mode.Native ? (both, 0) : (0, both);
        Assert.Equal(expected, (accounting.UserLockedPages, accounting.MmLockedPages));
        Assert.Equal(both, accounting.MmPinnedPages);

        // Over RLIMIT_MEMLOCK: ENOMEM in every mode, and nothing more is charged.
        accounting.LimitPages = both;
        Assert.Equal(-(int)Errno.ENOMEM, setup.Map(Iova + 0x20_0000, Size));
        Assert.Equal(both, accounting.MmPinnedPages);

        // Huge IOPTEs: type1 offers 2 MiB and 1 GiB pages; iommufd's compat TYPE1 turns huge pages
        // off on its IOAS (so that it can punch holes), TYPE1v2 and native keep them.
        if (mode is Mode.Type1 or Mode.Type1v2)
        {
            Assert.Equal(0x4020_1000UL, setup.Container!.GetIovaPageSizes() & 0x4020_1000UL);
            return;
        }

        Assert.Equal(mode == Mode.CompatType1 ? 0UL : 1UL, setup.HugePagesOption());
    }

    [Theory]
    [MemberData(nameof(AllModes))]
    public void PeerToPeer_MappingABarMmap_WorksInType1Only(Mode mode)
    {
        using var setup = new Setup(mode, withPeer: true);
        nint bar = setup.MapPeerBar0(out VfioRegionInfo region);
        Assert.True(region.CanMmap);
        try
        {
            const ulong BarIova = 0x40_0000;
            int rc = setup.Map(BarIova, region.Size, vaddr: bar);
            if (mode is Mode.CompatType1 or Mode.CompatType1v2 or Mode.Native)
            {
                Assert.Equal(-(int)Errno.EFAULT, rc);                  // iommufd does not pin VM_PFNMAP memory
                Assert.Contains("peer-to-peer", setup.Kernel.LastErrorReason, StringComparison.Ordinal);
                return;
            }

            // type1 maps it without pinning (nothing charged), and the edu device's DMA lands in the other device's memory.
            Assert.Equal(0, rc);
            Assert.Equal(0L, setup.Kernel.Accounting.MmPinnedPages);
            Assert.Equal(0, setup.Map(Iova, Size));
            byte[] pattern = Enumerable.Range(0, 256).Select(i => (byte)(i ^ 0x5A)).ToArray();
            pattern.CopyTo(setup.Memory.Span);
            using var driver = new EduDriver(setup.Device);
            driver.Copy(Iova, BarIova + 0x100, pattern.Length);
            Assert.Equal(pattern, setup.PeerModel!.Memory.Span.Slice(0x100, pattern.Length).ToArray());
        }
        finally
        {
            Assert.Equal(0, setup.Kernel.Munmap(bar, (nuint)region.Size));
        }
    }

    [Theory]
    [InlineData(Mode.Type1)]
    [InlineData(Mode.Type1v2)]
    public void PeerToPeer_ABarMmappedReadOnly_MapsForReadingOnly(Mode mode)
    {
        // vfio_iommu_type1.c: follow_fault_pfn answers EFAULT to a write fault on a VM_PFNMAP area the
        // process may not write (a BAR mmapped without PROT_WRITE); a mapping for reading pins nothing.
        using var setup = new Setup(mode, withPeer: true);
        nint bar = setup.MapPeerBar0(out VfioRegionInfo region);
        int fd = (int)setup.Peer!.Fd.DangerousGetHandle();
        try
        {
            // Mapped again in place without PROT_WRITE: the writable mapping it replaces is gone.
            Assert.Equal(bar, setup.Kernel.Mmap(bar, (nuint)region.Size, LinuxConstants.PROT_READ, LinuxConstants.MAP_SHARED | LinuxConstants.MAP_FIXED, fd, (long)region.Offset));
            Assert.Equal(-(int)Errno.EFAULT, setup.Map(0x40_0000, region.Size, access: 3, vaddr: bar));
            Assert.Equal(0, setup.Map(0x40_0000, region.Size, access: 1, vaddr: bar));

            // Without PROT_READ either, not even a mapping for reading faults it in.
            Assert.Equal(bar, setup.Kernel.Mmap(bar, (nuint)region.Size, LinuxConstants.PROT_NONE, LinuxConstants.MAP_SHARED | LinuxConstants.MAP_FIXED, fd, (long)region.Offset));
            Assert.Equal(-(int)Errno.EFAULT, setup.Map(0x80_0000, region.Size, access: 1, vaddr: bar));
        }
        finally
        {
            Assert.Equal(0, setup.Kernel.Munmap(bar, (nuint)region.Size));
        }
    }

    [Theory]
    [InlineData(Mode.Type1)]
    [InlineData(Mode.Type1v2)]
    public void PeerToPeer_ABarWhoseDeviceDoesNotDecodeMemory_CannotBeMapped(Mode mode)
    {
        // follow_fault_pfn → vfio_pci_vmf_insert_pfn: the peer's BAR is faulted in only while the peer
        // decodes memory (clearing the bit zaps what was faulted in): EFAULT, and a mapping again once
        // the bit is back.
        using var setup = new Setup(mode, withPeer: true);
        nint bar = setup.MapPeerBar0(out VfioRegionInfo region);
        try
        {
            uint command = setup.Peer!.ReadConfig32(0x04);
            setup.Peer.WriteConfig32(0x04, command & ~(uint)Abi.Linux.Pci.Constants.PCI_COMMAND_MEMORY);
            Assert.Equal(-(int)Errno.EFAULT, setup.Map(0x40_0000, region.Size, vaddr: bar));
            Assert.Contains("does not decode memory", setup.Kernel.LastErrorReason, StringComparison.Ordinal);

            setup.Peer.WriteConfig32(0x04, command | Abi.Linux.Pci.Constants.PCI_COMMAND_MEMORY);
            Assert.Equal(0, setup.Map(0x40_0000, region.Size, vaddr: bar));
        }
        finally
        {
            Assert.Equal(0, setup.Kernel.Munmap(bar, (nuint)region.Size));
        }
    }

    [Theory]
    [InlineData(Mode.Type1)]
    [InlineData(Mode.Type1v2)]
    public void PeerToPeer_AMappingOfMemoryAndABar_ChargesItsMemory(Mode mode)
    {
        // vfio_pin_pages_remote pins a mapping chunk by chunk, a reserved (BAR) pfn ending a chunk: the
        // memory's pages are charged to VmLck, the BAR's are not, in either order.
        using var setup = new Setup(mode, withPeer: true);
        setup.Kernel.Accounting.HasIpcLock = false;                                             // charged, as without CAP_IPC_LOCK
        setup.Kernel.Accounting.LimitPages = 1 << 20;
        VfioRegionInfo region = setup.Peer!.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX);
        nint span = setup.Kernel.Mmap(0, 4 * 4096, ReadWrite, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(span > 0);
        try
        {
            int fd = (int)setup.Peer.Fd.DangerousGetHandle();
            const int Fixed = LinuxConstants.MAP_SHARED | LinuxConstants.MAP_FIXED;
            Assert.Equal(span + 4096, setup.Kernel.Mmap(span + 4096, 2 * 4096, ReadWrite, Fixed, fd, (long)region.Offset));
            long before = setup.Kernel.Accounting.MmLockedPages;
            Assert.Equal(0, setup.Map(0x40_0000, 3 * 4096, vaddr: span));                       // memory, then two BAR pages
            Assert.Equal(before + 1, setup.Kernel.Accounting.MmLockedPages);
            Assert.Equal(0, setup.Map(0x50_0000, 3 * 4096, vaddr: span + 4096));                // two BAR pages, then memory
            Assert.Equal(before + 2, setup.Kernel.Accounting.MmLockedPages);
            Assert.Equal((0, 6UL * 4096), setup.Unmap(0, 0, all: true));
            Assert.Equal(before, setup.Kernel.Accounting.MmLockedPages);
        }
        finally
        {
            Assert.Equal(0, setup.Kernel.Munmap(span, 4 * 4096));
        }
    }

    [Fact]
    public void AMemoryBar_MapsFromAnyPage_AndTheMappingIsThatPartOfTheBar()
    {
        using var setup = new Setup(Mode.Native, withPeer: true);
        int fd = (int)setup.Peer!.Fd.DangerousGetHandle();
        Assert.Equal(4, setup.Kernel.Pwrite(fd, [0x11, 0x22, 0x33, 0x44], 0x3008));
        nint mapped = setup.Kernel.Mmap(0, 2 * 4096, ReadWrite, LinuxConstants.MAP_SHARED, fd, 0x2000);
        Assert.True(mapped > 0);
        try
        {
            Assert.Equal(0x4433_2211u, *(uint*)(mapped + 0x1008));
            *(uint*)(mapped + 0x10) = 0xCAFE_F00Du;
            byte[] back = new byte[4];
            Assert.Equal(4, setup.Kernel.Pread(fd, back, 0x2010));
            Assert.Equal(0xCAFE_F00Du, BitConverter.ToUInt32(back));
        }
        finally
        {
            Assert.Equal(0, setup.Kernel.Munmap(mapped, 2 * 4096));
        }
    }

    public static TheoryData<Mode> PinningModes => new(Mode.Type1v2, Mode.CompatType1v2, Mode.Native);

    [Theory]
    [MemberData(nameof(PinningModes))]
    public void APartialMunmap_LeavesTheRestOfTheMappingPinnable(Mode mode)
    {
        // munmap splits the vma and removes only the pages it names; pinning the others still works.
        using var setup = new Setup(mode);
        nint memory = setup.Kernel.Mmap(0, 3 * 4096, ReadWrite, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(memory > 0);
        try
        {
            Assert.Equal(0, setup.Kernel.Munmap(memory + 4096, 4096));
            Assert.Equal(0, setup.Map(0x40_0000, 4096, vaddr: memory));
            Assert.Equal(0, setup.Map(0x80_0000, 4096, vaddr: memory + 8192));
            Assert.Equal(-(int)Errno.EFAULT, setup.Map(0xC0_0000, 4096, vaddr: memory + 4096));
            Assert.Equal(-(int)Errno.EFAULT, setup.Map(0xC0_0000, 3 * 4096, vaddr: memory));
        }
        finally
        {
            _ = setup.Kernel.Munmap(memory, 3 * 4096);
        }
    }

    [Theory]
    [MemberData(nameof(PinningModes))]
    public void TwoAdjacentMmaps_PinAsOneRange(Mode mode)
    {
        // Pinning walks from one vma into the next: two mappings side by side serve one DMA mapping.
        using var setup = new Setup(mode);
        nint memory = setup.Kernel.Mmap(0, 2 * 4096, LinuxConstants.PROT_NONE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(memory > 0);
        try
        {
            const int Fixed = LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS | LinuxConstants.MAP_FIXED;
            Assert.Equal(memory, setup.Kernel.Mmap(memory, 4096, ReadWrite, Fixed, -1, 0));
            Assert.Equal(memory + 4096, setup.Kernel.Mmap(memory + 4096, 4096, ReadWrite, Fixed, -1, 0));
            Assert.Equal(0, setup.Map(0x40_0000, 2 * 4096, vaddr: memory));
        }
        finally
        {
            _ = setup.Kernel.Munmap(memory, 2 * 4096);
        }
    }

    [Theory]
    [MemberData(nameof(PinningModes))]
    public void AFixedMappingOverWritableMemory_TakesItsPlace(Mode mode)
    {
        // MAP_FIXED replaces what the range held: a read-only page there cannot be pinned for writing.
        using var setup = new Setup(mode);
        nint memory = setup.Kernel.Mmap(0, 2 * 4096, ReadWrite, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(memory > 0);
        try
        {
            Assert.Equal(memory + 4096, setup.Kernel.Mmap(memory + 4096, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS | LinuxConstants.MAP_FIXED, -1, 0));
            Assert.Equal(-(int)Errno.EFAULT, setup.Map(0x40_0000, 2 * 4096, vaddr: memory));
            Assert.Equal(0, setup.Map(0x40_0000, 4096, vaddr: memory));
        }
        finally
        {
            _ = setup.Kernel.Munmap(memory, 2 * 4096);
        }
    }

    /// <summary>An engine, an edu device opened the way <paramref name="mode"/> opens it, and 4 pages of DMA memory.</summary>
    private sealed class Setup : IDisposable
    {
        private readonly Mode _mode;
        private readonly IommuFd? _iommufd;
        private readonly Ioas? _ioas;

        public Setup(Mode mode, int entryLimit = 65535, bool withPeer = false)
        {
            _mode = mode;
            Kernel = new EmulatedKernel(mode is Mode.Type1 or Mode.Type1v2 ? ContainerBackend.Type1 : ContainerBackend.Iommufd) { Type1DmaEntryLimit = entryLimit };
            Edu = new EduDevice();
            var node = Kernel.AddDevice(Edu);
            PeerModel = withPeer ? new MemoryBarDevice() : null;
            var peerNode = PeerModel is null ? null : Kernel.AddDevice(PeerModel);
            Memory = DmaBuffer.Allocate(Kernel, (long)Size, preferHugePages: false);
            if (mode == Mode.Native)
            {
                _iommufd = IommuFd.Open(Kernel);
                _ioas = _iommufd.AllocIoas();
                Device = VfioDevice.OpenCdev(node.CdevPath!, Kernel);
                Device.BindIommufd(_iommufd);
                Device.Attach(_ioas.Id);
                Group = null!;
                if (peerNode is not null)
                {
                    Peer = VfioDevice.OpenCdev(peerNode.CdevPath!, Kernel);
                    Peer.BindIommufd(_iommufd);
                    Peer.Attach(_ioas.Id);
                }

                return;
            }

            Container = VfioContainer.Open(Kernel);
            Group = VfioGroup.Open(node.GroupPath, Kernel);
            Group.SetContainer(Container);
            Container.SetIommu(mode is Mode.Type1 or Mode.CompatType1 ? 1u : 3u);
            Device = Group.GetDevice(node.PciName);
            if (peerNode is not null)
            {
                PeerGroup = VfioGroup.Open(peerNode.GroupPath, Kernel);
                PeerGroup.SetContainer(Container);
                Peer = PeerGroup.GetDevice(peerNode.PciName);
            }
        }

        public MemoryBarDevice? PeerModel { get; }

        public VfioDevice? Peer { get; }

        public VfioGroup? PeerGroup { get; }

        public EmulatedKernel Kernel { get; }

        public EduDevice Edu { get; }

        public DmaBuffer Memory { get; }

        public VfioDevice Device { get; }

        public VfioContainer? Container { get; }

        public VfioGroup Group { get; }

        public int ContainerFd => (int)Container!.Fd.DangerousGetHandle();

        /// <summary>Maps [iova, iova+size) onto the start of the memory; access 3 = read|write in both APIs' terms.</summary>
        /// <summary>The peer's BAR0, mmapped shared and read-write as a driver maps it.</summary>
        public nint MapPeerBar0(out VfioRegionInfo region)
        {
            region = Peer!.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX);
            nint bar = Kernel.Mmap(0, (nuint)region.Size, ReadWrite, LinuxConstants.MAP_SHARED, (int)Peer.Fd.DangerousGetHandle(), (long)region.Offset);
            Assert.True(bar > 0);
            return bar;
        }

        public int Map(ulong iova, ulong size, uint access = 3, nint vaddr = 0)
        {
            ulong source = (ulong)(vaddr != 0 ? vaddr : Memory.Address);
            if (_mode == Mode.Native)
            {
                var map = new iommu_ioas_map { flags = 1 | (access == 3 ? 6u : 0), ioas_id = _ioas!.Id, user_va = source, length = size, iova = iova };
                return -(int)_iommufd!.Raw().TryIoasMap(ref map);
            }

            var dma = new vfio_iommu_type1_dma_map { argsz = 32, flags = access, vaddr = source, iova = iova, size = size };
            return Kernel.Ioctl(ContainerFd, Constants.VFIO_IOMMU_MAP_DMA, (nint)(&dma));
        }

        /// <summary>IOMMU_OPTION_HUGE_PAGES of the IOAS in use (the compat IOAS for a container served by iommufd).</summary>
        public ulong HugePagesOption()
        {
            var raw = _mode == Mode.Native ? _iommufd!.Raw() : new IommufdIoctls(Kernel, ContainerFd);
            uint ioasId = _ioas?.Id ?? 0;
            if (_mode != Mode.Native)
            {
                var get = new iommu_vfio_ioas { size = 12, op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_GET };
                Assert.Equal(Errno.None, raw.TryVfioIoas(ref get));
                ioasId = get.ioas_id;
            }

            var option = new iommu_option { size = 24, option_id = (uint)iommufd_option.IOMMU_OPTION_HUGE_PAGES, op = (ushort)iommufd_option_ops.IOMMU_OPTION_OP_GET, object_id = ioasId };
            Assert.Equal(Errno.None, raw.TryOption(ref option));
            return option.val64;
        }

        /// <summary>Unmaps and returns the result and the size the kernel wrote back (0 if it wrote none).</summary>
        public (int Rc, ulong Size) Unmap(ulong iova, ulong size, bool all = false, uint flags = 0)
        {
            if (_mode == Mode.Native)
            {
                var unmap = new iommu_ioas_unmap { ioas_id = _ioas!.Id, iova = all ? 0 : iova, length = all ? ulong.MaxValue : size };
                Errno e = _iommufd!.Raw().TryIoasUnmap(ref unmap);
                return (-(int)e, e == Errno.None ? unmap.length : 0);
            }

            var dma = new vfio_iommu_type1_dma_unmap { argsz = 24, flags = flags | (all ? 2u : 0), iova = iova, size = size };
            int rc = Kernel.Ioctl(ContainerFd, Constants.VFIO_IOMMU_UNMAP_DMA, (nint)(&dma));
            return (rc, rc == 0 || _mode is Mode.CompatType1 or Mode.CompatType1v2 ? dma.size : 0);
        }

        public void Dispose()
        {
            Peer?.Dispose();
            PeerGroup?.Dispose();
            Device.Dispose();
            _ioas?.Dispose();
            _iommufd?.Dispose();
            Group?.Dispose();
            Container?.Dispose();
            Memory.Dispose();
        }
    }
}
