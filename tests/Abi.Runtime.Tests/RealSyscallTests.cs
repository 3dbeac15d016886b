using System.Text;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Runtime.Tests;

/// <summary>The kernel backend doing real system calls on real files of this machine (which has no VFIO).</summary>
[Collection(nameof(SerialCollection))]
public sealed unsafe class RealSyscallTests : IDisposable
{
    private static readonly LinuxKernel s_kernel = LinuxKernel.Instance;
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void Fionread_OnAPipe_CountsWhatWasWritten()
    {
        (int read, int write) = LinuxKernel.Pipe();
        try
        {
            Assert.Equal(5, s_kernel.Write(write, "hello"u8));
            int available = -1;
            Assert.Equal(0, s_kernel.Ioctl(read, LinuxConstants.FIONREAD, (nint)(&available)));
            Assert.Equal(5, available);
        }
        finally
        {
            Assert.Equal(0, s_kernel.Close(read));
            Assert.Equal(0, s_kernel.Close(write));
        }
    }

    [Fact]
    public void VfioIoctl_OnARegularFile_IsEnotty_AndEbadfAfterClose()
    {
        using FileDescriptor fd = FileDescriptor.Open(s_kernel, _file);
        int number;
        using (FileDescriptor.Lease lease = fd.Borrow())
        {
            number = lease.Fd;
            Assert.Equal(Errno.ENOTTY, new VfioContainerIoctls(s_kernel, number).TryGetApiVersion(out _));
        }

        fd.Dispose();
        Assert.Equal(-(int)Errno.EBADF, s_kernel.Ioctl(number, Constants.VFIO_GET_API_VERSION, 0));
        Assert.Throws<ObjectDisposedException>(() => fd.Borrow());
    }

    [Fact]
    public void PreadAndPwrite_WorkAtOffsets()
    {
        using FileDescriptor fd = FileDescriptor.Open(s_kernel, _file);
        using FileDescriptor.Lease lease = fd.Borrow();
        Assert.Equal(6, s_kernel.Pwrite(lease.Fd, "abcdef"u8, 10));
        Span<byte> back = stackalloc byte[3];
        Assert.Equal(3, s_kernel.Pread(lease.Fd, back, 12));
        Assert.Equal("cde", Encoding.ASCII.GetString(back));
        Assert.Equal(16, new FileInfo(_file).Length);
        Assert.Equal(-(long)Errno.EINVAL, s_kernel.Pread(lease.Fd, back, -1));
    }

    [Fact]
    public void Mmap_GivesUsableMemory_AndMunmapReleasesIt()
    {
        using (var maybeHuge = DmaBuffer.Allocate(s_kernel, 10_000, preferHugePages: true))
        {
            // Huge pages when the system has them free (2 MiB rounding), else 4 KiB pages and a note saying why.
            Assert.Equal(maybeHuge.IsHugePage ? 2 * 1024 * 1024 : 12_288, maybeHuge.Length);
            Assert.Equal(maybeHuge.IsHugePage, maybeHuge.Note is null);
        }

        var buffer = DmaBuffer.Allocate(s_kernel, 10_000, preferHugePages: false);
        nint address = buffer.Address;
        Assert.Equal(12_288, buffer.Length);
        Assert.Equal(0, address % 4096);

        buffer.Span.Fill(0x5A);
        Assert.Equal(0x5A, buffer.Slice(12_287, 1)[0]);
        (ulong, ulong)? mapping = MappingOf(address);
        Assert.NotNull(mapping);
        buffer.Dispose();

        // The runtime may map something else there at once (the GC grows its heap from other
        // threads); the buffer's own mapping must be gone.
        Assert.NotEqual(mapping, MappingOf(address));
        Assert.Throws<ObjectDisposedException>(() => buffer.Address);
    }

    [Fact]
    public void EventFd_RoundTrip()
    {
        using var eventFd = EventFd.Create(s_kernel);
        Assert.False(eventFd.TryRead(out _));
        Assert.False(eventFd.Wait(0));
        eventFd.Signal(3);
        eventFd.Signal(4);
        Assert.True(eventFd.Wait(1000));
        Assert.True(eventFd.TryRead(out ulong value));
        Assert.Equal(7ul, value);
        Assert.False(eventFd.TryRead(out _));
    }

    [Fact]
    public void OpeningDevIommu_FailsWithEnoent_AndNamesTheEngine()
    {
        SyscallException e = Assert.Throws<SyscallException>(() => IommuFd.Open(s_kernel));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.StartsWith("open /dev/iommu failed: ENOENT (2); ", e.Message, StringComparison.Ordinal);
        Assert.Contains("ABI_BACKEND=engine", e.Message, StringComparison.Ordinal);
        Assert.Contains("ABI_BACKEND=engine", Assert.Throws<SyscallException>(() => VfioContainer.Open(s_kernel)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheWrongKindOfFile_GivesAnIoctlExceptionSayingWhich()
    {
        IoctlException e = Assert.Throws<IoctlException>(() => VfioContainer.Open(s_kernel, "/dev/null"));
        Assert.Equal("VFIO_GET_API_VERSION on container failed: ENOTTY (25)", e.Message);

        using IommuFd notIommu = IommuFd.Open(s_kernel, _file);
        e = Assert.Throws<IoctlException>(() => notIommu.AllocIoas());
        Assert.Equal(("IOMMU_IOAS_ALLOC", Errno.ENOTTY), (e.Ioctl, e.Errno));
    }

    [Fact]
    public void NoFdLeaks_Over10000OpenCloseCycles_FailuresIncluded()
    {
        // Only the kinds of file this loop opens are counted: the runtime and the test host open their
        // own (symbol files, epoll and pipes for async I/O) at times of their choosing.
        int before = OurKindOfFds();
        for (int i = 0; i < 10_000; i++)
        {
            using (FileDescriptor fd = FileDescriptor.Open(s_kernel, "/dev/null"))
            {
                Assert.False(fd.IsInvalid);
            }

            switch (i % 4)
            {
                case 0:
                    Assert.Throws<SyscallException>(() => FileDescriptor.Open(s_kernel, "/nonexistent/abi"));
                    break;
                case 1:
                    Assert.Throws<IoctlException>(() => VfioContainer.Open(s_kernel, "/dev/null"));
                    break;
                case 2:
                    using (var eventFd = EventFd.Create(s_kernel))
                    {
                        eventFd.Signal();
                    }

                    break;
                default:
                    using (IommuFd bogus = IommuFd.Open(s_kernel, "/dev/null"))
                    {
                        Assert.Throws<IoctlException>(() => bogus.AllocIoas());
                    }

                    break;
            }
        }

        Assert.Equal(before, OurKindOfFds());
    }

    private static int OurKindOfFds()
    {
        int count = 0;
        foreach (string fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                string? target = new FileInfo(fd).LinkTarget;
                count += target is "/dev/null" or "anon_inode:[eventfd]" ? 1 : 0;
            }
            catch (IOException)
            {
                // Closed while listed.
            }
        }

        return count;
    }

    /// <summary>The [start, end) of the mapping holding <paramref name="address"/>, or null.</summary>
    private static (ulong, ulong)? MappingOf(nint address)
    {
        foreach (string line in File.ReadAllLines("/proc/self/maps"))
        {
            string[] range = line.Split(' ')[0].Split('-');
            ulong start = ulong.Parse(range[0], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(range[1], System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            if ((ulong)address >= start && (ulong)address < end)
            {
                return (start, end);
            }
        }

        return null;
    }
}
