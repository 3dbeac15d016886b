using System.Runtime.InteropServices;
using Abi.Engine.Iommufd;
using Abi.Engine.Selftest;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using Abi.Samples.Edu;
using static Abi.Engine.Selftest.Uapi.Constants;
using iommu_test_cmd = Abi.Engine.Selftest.Uapi.iommu_test_cmd;

namespace Abi.Engine.Tests;

/// <summary>
/// VFIO_DEVICE_FEATURE_DMA_BUF (vfio_pci_dmabuf.c) and its import by IOMMU_IOAS_MAP_FILE (pages.c):
/// peer-to-peer DMA through iommufd, the exporter's checks in the kernel's order, and revocation,
/// which takes a mapping out of the domains for good.
/// </summary>
public sealed unsafe class DmaBufTests : DeviceTest
{
    private const ulong BarIova = 0x40_0000, RamIova = 0x10_0000;

    private readonly MemoryBarDevice _peerModel = new();
    private readonly EmulatedDeviceInfo _peerNode;
    private readonly VfioDevice _edu;
    private readonly VfioDevice _peer;
    private readonly Ioas _ioas;
    private readonly DmaBuffer _ram;

    public DmaBufTests()
    {
        _peerNode = Kernel.AddDevice(_peerModel);
        _edu = OpenBound(out _);
        _peer = VfioDevice.OpenCdev(_peerNode.CdevPath!, Kernel);
        _peer.BindIommufd(Iommufd);
        _ioas = Iommufd.AllocIoas();
        _edu.Attach(_ioas.Id);
        _ram = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        _ioas.Map(_ram, RamIova);
    }

    [Fact]
    public void PeerToPeer_ThroughADmaBuf_ReachesThePeersBar_AndChargesNothing()
    {
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0x1000, 0x2000)]);
        long pinned = Kernel.Accounting.UserLockedPages;
        Assert.Equal(BarIova, _ioas.MapFile(dmabuf, 0x1000, 0x1000, BarIova));
        Assert.Equal(pinned, Kernel.Accounting.UserLockedPages);

        // The mapping starts 0x1000 into the buffer, which starts 0x1000 into the BAR.
        byte[] pattern = Pattern(0x5A);
        pattern.CopyTo(_ram.Span);
        Copy(RamIova, BarIova + 0x100, pattern.Length);
        Assert.Equal(pattern, _peerModel.Memory.Span.Slice(0x2100, pattern.Length).ToArray());
        Assert.Equal(0, Edu.Dma.Faults);
    }

    [Fact]
    public void MemoryDecodingOff_RevokesTheMapping_ForGood()
    {
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0, 0x1000)]);
        _ioas.MapFile(dmabuf, 0, 0x1000, BarIova);
        uint command = _peer.ReadConfig32(4);
        _peer.WriteConfig32(4, command & ~2u);                   // memory decoding off: revoked

        Assert.Equal(Errno.ENODEV, MapFile(dmabuf, BarIova + 0x1_0000));
        Pattern(0x11).CopyTo(_ram.Span);
        Copy(RamIova, BarIova, 64);
        Assert.Equal(IommuFaultReason.UnknownMemory, Edu.Dma.LastFault!.Value.Reason);
        Assert.All(_peerModel.Memory.Span[..64].ToArray(), b => Assert.Equal(0, b));

        // Decoding back on restores the buffer for new mappings; the old one stays empty.
        _peer.WriteConfig32(4, command);
        Assert.Equal(Errno.None, MapFile(dmabuf, BarIova + 0x1_0000));
        Copy(RamIova, BarIova, 64);
        Assert.All(_peerModel.Memory.Span[..64].ToArray(), b => Assert.Equal(0, b));
        Copy(RamIova, BarIova + 0x1_0000, 64);
        Assert.Equal(_ram.Span[..64].ToArray(), _peerModel.Memory.Span[..64].ToArray());
    }

    [Fact]
    public void AResetOrLowPower_RevokesAndRestores()
    {
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0, 0x1000)]);
        _ioas.MapFile(dmabuf, 0, 0x1000, BarIova);
        _peer.Reset();
        Pattern(0x22).CopyTo(_ram.Span);
        Copy(RamIova, BarIova, 64);
        Assert.Equal(IommuFaultReason.UnknownMemory, Edu.Dma.LastFault!.Value.Reason);
        Assert.Equal(Errno.None, MapFile(dmabuf, BarIova + 0x1_0000));

        // Low power revokes, even an entry refused because low power is engaged already (the revoke
        // comes first in vfio_pci_runtime_pm_entry); exit restores.
        Assert.Equal(0, Feature(Constants.VFIO_DEVICE_FEATURE_SET | Constants.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY));
        Assert.Equal(Errno.ENODEV, MapFile(dmabuf, BarIova + 0x2_0000));
        uint command = _peer.ReadConfig32(4);
        _peer.WriteConfig32(4, command);                                 // memory decodes: restored while engaged
        Assert.Equal(Errno.None, MapFile(dmabuf, BarIova + 0x2_0000));
        Assert.Equal(-(int)Errno.EINVAL, Feature(Constants.VFIO_DEVICE_FEATURE_SET | Constants.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY));
        Assert.Equal(Errno.ENODEV, MapFile(dmabuf, BarIova + 0x3_0000));
        Assert.Equal(0, Feature(Constants.VFIO_DEVICE_FEATURE_SET | Constants.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT));
        Assert.Equal(Errno.None, MapFile(dmabuf, BarIova + 0x3_0000));
    }

    [Fact]
    public void TheDevicesLastClose_RevokesItsBuffers_ForGood()
    {
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0, 0x1000)]);
        _peer.Dispose();
        Assert.Equal(Errno.ENODEV, MapFile(dmabuf, BarIova));

        using VfioDevice again = VfioDevice.OpenCdev(_peerNode.CdevPath!, Kernel);
        again.BindIommufd(Iommufd);
        Assert.Equal(Errno.ENODEV, MapFile(dmabuf, BarIova));
        using FileDescriptor fresh = again.ExportDmaBuf(0, [(0, 0x1000)]);
        Assert.Equal(Errno.None, MapFile(fresh, BarIova));
    }

    [Fact]
    public void ABufferExportedWhileMemoryDoesNotDecode_IsRevokedAtOnce_AndSeveralRangesAreNotImported()
    {
        uint command = _peer.ReadConfig32(4);
        _peer.WriteConfig32(4, command & ~2u);
        using FileDescriptor revoked = _peer.ExportDmaBuf(0, [(0, 0x1000)]);
        Assert.Equal(Errno.ENODEV, MapFile(revoked, BarIova));
        _peer.WriteConfig32(4, command);
        Assert.Equal(Errno.None, MapFile(revoked, BarIova));

        // vfio_pci_dma_buf_iommufd_map takes one physical range; the buffer itself is fine.
        using FileDescriptor two = _peer.ExportDmaBuf(0, [(0, 0x1000), (0x3000, 0x1000)]);
        Assert.Equal(Errno.EOPNOTSUPP, MapFile(two, BarIova + 0x1_0000));
        Assert.Contains("ranges", Kernel.LastErrorReason, StringComparison.Ordinal);

        // dma_buf_mmap_internal: the exporter has no mmap.
        int fd = (int)revoked.DangerousGetHandle();
        Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_SHARED, fd, 0));
    }

    [Fact]
    public void Accesses_CannotReachOrPinADmaBufsArea_ButCopyWhatComesBeforeIt()
    {
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0, 0x2000)]);
        _ioas.MapFile(dmabuf, 0, 0x2000, BarIova);
        using DmaBuffer below = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        _ioas.Map(below, BarIova - 4096);
        AccessObject access = Context.CreateAccess((_, _) => { });
        Assert.Equal(0, access.Attach(_ioas.Id));

        // pages.c: iopt_pages_rw_access and iopt_area_add_access refuse a dma-buf's pages (EINVAL).
        byte[] data = [1, 2, 3, 4];
        Assert.Equal(-(int)Errno.EINVAL, access.Rw(BarIova, data, write: true));
        Assert.Equal(-(int)Errno.EINVAL, access.Pin(BarIova, 4096, write: false));
        Assert.Equal(-(int)Errno.EINVAL, access.Rw(BarIova - 2, data, write: true));   // the two bytes before it are written
        Assert.Equal(data[..2], below.Span[4094..].ToArray());
        Assert.All(_peerModel.Memory.Span[..4].ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(-(int)Errno.EINVAL, access.Pin(BarIova - 4096, 2 * 4096, write: false));
        Assert.Empty(access.Pins);
    }

    [Fact]
    public void TheSelftestsRevoke_RefusesAnotherExportersBuffer_AndPollIsReady()
    {
        IommufdSelftest.Enable(Kernel);
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0, 0x1000)]);
        int fd = (int)dmabuf.DangerousGetHandle();
        var revoke = new iommu_test_cmd { size = (uint)sizeof(iommu_test_cmd), op = IOMMU_TEST_OP_DMABUF_REVOKE, dmabuf_revoke = new() { dmabuf_fd = fd, revoked = 1 } };
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Kernel.Ioctl((int)Iommufd.Fd.DangerousGetHandle(), IOMMU_TEST_CMD, (nint)(&revoke)));
        Assert.Equal(Errno.None, MapFile(dmabuf, BarIova));

        // The selftest's exporter takes open_flags too (iommufd_test_dmabuf_get: dma_buf_export, dma_buf_fd).
        var get = new iommu_test_cmd { size = (uint)sizeof(iommu_test_cmd), op = IOMMU_TEST_OP_DMABUF_GET, dmabuf_get = new() { length = 4096, open_flags = (uint)LinuxConstants.O_CLOEXEC } };
        int readOnly = Kernel.Ioctl((int)Iommufd.Fd.DangerousGetHandle(), IOMMU_TEST_CMD, (nint)(&get));
        Assert.True(readOnly > 0);
        Assert.Equal(-(long)Errno.EBADF, Kernel.Write(readOnly, new byte[4]));
        Assert.Equal(0, Kernel.Close(readOnly));

        // dma_buf_poll: no fences, so both directions are ready at once.
        var poll = new PollFd { Fd = fd, Events = (short)(LinuxConstants.POLLIN | LinuxConstants.POLLOUT) };
        Assert.Equal(1, Kernel.Poll(new Span<PollFd>(ref poll), -1));
        Assert.Equal(LinuxConstants.POLLIN | LinuxConstants.POLLOUT, poll.ReturnedEvents);
    }

    [Fact]
    public void OpenFlags_GiveTheFileItsAccessModeAndCloseOnExec()
    {
        // dma_buf_getfile keeps O_ACCMODE (OPEN_FMODE: 3 opens for neither direction); dma_buf_fd O_CLOEXEC.
        int readOnly = Export(LinuxConstants.O_RDONLY), neither = Export(LinuxConstants.O_ACCMODE | LinuxConstants.O_CLOEXEC);
        try
        {
            byte[] buffer = new byte[8];
            Assert.Equal(-(long)Errno.EBADF, Kernel.Write(readOnly, buffer));
            Assert.Equal(-(long)Errno.EINVAL, Kernel.Read(readOnly, buffer));             // readable, but no read operation
            Assert.Equal(-(nint)Errno.EACCES, Kernel.Mmap(0, 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, readOnly, 0));
            Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_SHARED, readOnly, 0));
            Assert.Equal(-(long)Errno.EBADF, Kernel.Read(neither, buffer));
            Assert.Equal(-(nint)Errno.EACCES, Kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_PRIVATE, neither, 0));
            Assert.Equal(0, FdInfoFlags(readOnly) & LinuxConstants.O_CLOEXEC);
            Assert.Equal(LinuxConstants.O_CLOEXEC, FdInfoFlags(neither) & LinuxConstants.O_CLOEXEC);
        }
        finally
        {
            _ = Kernel.Close(readOnly);
            _ = Kernel.Close(neither);
        }
    }

    [Fact]
    public void DmaBufIoctls_SyncAndSetName_AnswerAsDmaBufIoctl()
    {
        int fd = Export(LinuxConstants.O_RDWR | LinuxConstants.O_CLOEXEC);
        try
        {
            const uint Sync = 0x4008_6200, SetName = 0x4008_6201;
            foreach ((ulong flags, int expected) in new[] { (1UL, 0), (7UL, 0), (4UL, -(int)Errno.EINVAL), (0UL, -(int)Errno.EINVAL), (9UL, -(int)Errno.EINVAL) })
            {
                ulong sync = flags;
                Assert.Equal(expected, Kernel.Ioctl(fd, Sync, (nint)(&sync)));
            }

            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(fd, Sync, 0));
            fixed (byte* name = "abi-bar0\0"u8, tooLong = "0123456789012345678901234567890123456789\0"u8)
            {
                Assert.Equal(0, Kernel.Ioctl(fd, SetName, (nint)name));
                Assert.Equal(-(int)Errno.EINVAL, Kernel.Ioctl(fd, SetName, (nint)tooLong));
            }

            Assert.Equal("abi-bar0", ((DmaBufFile)Kernel.FileOf(fd)!).BufferName);
            Assert.Equal(-(int)Errno.ENOTTY, Kernel.Ioctl(fd, 0xC0086202, 0));      // EXPORT_SYNC_FILE: no CONFIG_SYNC_FILE
        }
        finally
        {
            _ = Kernel.Close(fd);
        }
    }

    /// <summary>A dma-buf of BAR0's first page with <paramref name="openFlags"/>, through the raw ioctl.</summary>
    private int Export(int openFlags)
    {
        byte[] argument = new byte[8 + 16 + 16];
        MemoryMarshal.Write(argument, new vfio_device_feature { argsz = (uint)argument.Length, flags = Constants.VFIO_DEVICE_FEATURE_GET | Constants.VFIO_DEVICE_FEATURE_DMA_BUF });
        MemoryMarshal.Write(argument.AsSpan(8), new vfio_device_feature_dma_buf { open_flags = (uint)openFlags, nr_ranges = 1 });
        MemoryMarshal.Write(argument.AsSpan(24), new vfio_region_dma_range { length = 0x1000 });
        int fd = Ioctl(FdOf(_peer), Constants.VFIO_DEVICE_FEATURE, argument);
        Assert.True(fd > 0, $"the export answered {fd}");
        return fd;
    }

    private static int FdInfoFlags(int fd) =>
        Convert.ToInt32(File.ReadAllLines($"/proc/self/fdinfo/{fd}").Single(l => l.StartsWith("flags:", StringComparison.Ordinal))["flags:".Length..].Trim(), 8);

    public static TheoryData<string, uint, uint, uint, uint, uint, ulong, ulong, Errno> Requests => new()
    {
        // name, feature flags, data bytes, region, flags, ranges, first offset, first length, errno
        { "set", Constants.VFIO_DEVICE_FEATURE_SET, 32, 0, 0, 1, 0, 0x1000, Errno.EINVAL },
        { "probe", Constants.VFIO_DEVICE_FEATURE_PROBE | Constants.VFIO_DEVICE_FEATURE_GET, 0, 9, 1, 0, 1, 0, Errno.None },
        { "short head", Constants.VFIO_DEVICE_FEATURE_GET, 15, 0, 0, 1, 0, 0x1000, Errno.EINVAL },
        { "no ranges and no BAR", Constants.VFIO_DEVICE_FEATURE_GET, 16, 7, 0, 0, 0, 0x1000, Errno.EINVAL },
        { "flags and no BAR", Constants.VFIO_DEVICE_FEATURE_GET, 32, 7, 1, 1, 0, 0x1000, Errno.EINVAL },
        { "the ROM", Constants.VFIO_DEVICE_FEATURE_GET, 32, 6, 0, 1, 0, 0x1000, Errno.ENODEV },
        { "an absent BAR, unaligned", Constants.VFIO_DEVICE_FEATURE_GET, 32, 1, 0, 1, 1, 0x1000, Errno.ENODEV },
        { "too many ranges", Constants.VFIO_DEVICE_FEATURE_GET, 32, 0, 0, (4 << 20) / 16 + 1, 0, 0x1000, Errno.ENOMEM },
        { "unaligned", Constants.VFIO_DEVICE_FEATURE_GET, 32, 0, 0, 1, 0x800, 0x1000, Errno.EINVAL },
        { "empty", Constants.VFIO_DEVICE_FEATURE_GET, 32, 0, 0, 1, 0, 0, Errno.EINVAL },
        { "I/O BAR", Constants.VFIO_DEVICE_FEATURE_GET, 32, 2, 0, 1, 0, 0x1000, Errno.EINVAL },
        { "past the BAR", Constants.VFIO_DEVICE_FEATURE_GET, 32, 0, 0, 1, 0xF000, 0x2000, Errno.EINVAL },
        { "wraps", Constants.VFIO_DEVICE_FEATURE_GET, 32, 0, 0, 1, 0xFFFF_FFFF_FFFF_F000, 0x2000, Errno.EOVERFLOW },
        { "total has bit 63", Constants.VFIO_DEVICE_FEATURE_GET, 32, 0, 0, 1, 0, 0x8000_0000_0000_0000, Errno.EINVAL },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public void Export_AnswersAsTheKernelDoes(string name, uint flags, uint dataBytes, uint region, uint requestFlags, uint ranges, ulong offset, ulong length, Errno expected)
    {
        _ = name;
        byte[] argument = new byte[8 + 16 + 16];
        MemoryMarshal.Write(argument, new vfio_device_feature { argsz = 8 + dataBytes, flags = flags | Constants.VFIO_DEVICE_FEATURE_DMA_BUF });
        MemoryMarshal.Write(argument.AsSpan(8), new vfio_device_feature_dma_buf { region_index = region, flags = requestFlags, nr_ranges = ranges });
        MemoryMarshal.Write(argument.AsSpan(24), new vfio_region_dma_range { offset = offset, length = length });
        int rc = Ioctl(FdOf(_peer), Constants.VFIO_DEVICE_FEATURE, argument);
        Assert.Equal(expected == Errno.None ? 0 : -(int)expected, rc);
    }

    [Fact]
    public void Export_ReadsTheRangesWhateverArgszSays_AndFaultsWhereTheyAreNotMapped()
    {
        // The head fits in argsz; the ranges are copied by their count (memdup_array_user), here into
        // a page that cannot be read, after a head whose BAR is fine. (PROT_NONE, not unmapped: another
        // thread's mmap could take a hole.)
        nint pages = Kernel.Mmap(0, 2 * 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(pages > 0);
        Assert.Equal(0, Mprotect(pages + 4096, 4096, LinuxConstants.PROT_NONE));
        try
        {
            byte* head = (byte*)pages + 4096 - 24;
            *(vfio_device_feature*)head = new vfio_device_feature { argsz = 8 + 16, flags = Constants.VFIO_DEVICE_FEATURE_GET | Constants.VFIO_DEVICE_FEATURE_DMA_BUF };
            *(vfio_device_feature_dma_buf*)(head + 8) = new vfio_device_feature_dma_buf { region_index = 0, nr_ranges = 1 };
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(FdOf(_peer), Constants.VFIO_DEVICE_FEATURE, (nint)head));

            // Two wrong things: an absent BAR is found before the ranges are read.
            ((vfio_device_feature_dma_buf*)(head + 8))->region_index = 1;
            Assert.Equal(-(int)Errno.ENODEV, Kernel.Ioctl(FdOf(_peer), Constants.VFIO_DEVICE_FEATURE, (nint)head));
        }
        finally
        {
            _ = Kernel.Munmap(pages, 2 * 4096);
        }
    }

    [Fact]
    public void ChangeProcess_WithADmaBufMapped_IsEinval()
    {
        // ioas.c: iommufd_ioas_change_process moves only IOPT_ADDRESS_FILE pages; a dma-buf's are not.
        _ioas.Unmap(RamIova, 4096);
        var change = new iommu_ioas_change_process { size = (uint)sizeof(iommu_ioas_change_process) };
        Assert.Equal(Errno.None, Raw.TryIoasChangeProcess(ref change));                 // nothing mapped: nothing to move
        using FileDescriptor dmabuf = _peer.ExportDmaBuf(0, [(0, 0x1000)]);
        Assert.Equal(Errno.None, MapFile(dmabuf, BarIova));
        Assert.Equal(Errno.EINVAL, Raw.TryIoasChangeProcess(ref change));
    }

    private Errno MapFile(FileDescriptor dmabuf, ulong iova)
    {
        var map = new iommu_ioas_map_file { size = 48, flags = 7, ioas_id = _ioas.Id, fd = (int)dmabuf.DangerousGetHandle(), start = 0, length = 0x1000, iova = iova };
        return Raw.TryIoasMapFile(ref map);
    }

    private int Feature(uint flags)
    {
        byte[] argument = new byte[8];
        MemoryMarshal.Write(argument, new vfio_device_feature { argsz = 8, flags = flags });
        return Ioctl(FdOf(_peer), Constants.VFIO_DEVICE_FEATURE, argument);
    }

    private void Copy(ulong source, ulong destination, int count)
    {
        using var driver = new EduDriver(_edu);
        driver.Copy(source, destination, count);
    }

    private static byte[] Pattern(byte seed) => Enumerable.Range(0, 256).Select(i => (byte)(i ^ seed)).ToArray();

    [DllImport("libc", EntryPoint = "mprotect")]
    private static extern int Mprotect(nint address, nuint length, int protection);
}
