using System.Runtime.InteropServices;
using Abi.Interop;
using Uapi.Fs;
using Uapi.I2c;
using Uapi.Kvm;
using Uapi.Perf;
using Uapi.Tun;
using Uapi.Uffd;

namespace Abi.Consumer.Tests;

/// <summary>
/// Bindings generated at build time from the pinned kernel headers, named by include name in
/// AbiHeader items. The wrappers must hand the kernel what its handler reads (the built-in override
/// table cites each handler): a value where the handler uses <c>arg</c> itself, a pointer to the type
/// it copies where the encoding names another. Then some calls to the real kernel.
/// </summary>
public sealed unsafe partial class UapiWrapperTests
{
    [Fact]
    public void ValueArguments_ReachTheKernelAsTheValue()
    {
        var seam = new Recorder();
        Assert.Equal(0, new TunIoctls(seam, 3).Tunsetpersist(1));                      // tun.c: if (arg && ...)
        Assert.Equal(((uint)Uapi.Tun.Constants.TUNSETPERSIST, (nint)1), (seam.Request, seam.Argument));
        new PerfIoctls(seam, 3).Enable((nint)perf_event_ioc_flags.PERF_IOC_FLAG_GROUP);  // core.c: u32 flags = arg
        Assert.Equal(((uint)Uapi.Perf.Constants.PERF_EVENT_IOC_ENABLE, (nint)1), (seam.Request, seam.Argument));
        new KvmIoctls(seam, 3).CheckExtension(Uapi.Kvm.Constants.KVM_CAP_IRQCHIP);       // kvm_main.c: check_extension_generic(NULL, arg)
        Assert.Equal(((uint)Uapi.Kvm.Constants.KVM_CHECK_EXTENSION, (nint)Uapi.Kvm.Constants.KVM_CAP_IRQCHIP), (seam.Request, seam.Argument));
        new KvmIoctls(seam, 3).CreateVcpu(7);
        Assert.Equal((nint)7, seam.Argument);
        new I2cIoctls(seam, 3).Slave(0x50);                                                // i2c-dev.c: client->addr = arg
        Assert.Equal((0x0703u, (nint)0x50), (seam.Request, seam.Argument));
    }

    [Fact]
    public void PointerArguments_PointAtTheTypeTheHandlerCopies()
    {
        var seam = new Recorder();

        // TUNSETIFF is encoded _IOW(int) but tun.c copies a whole struct ifreq (40 bytes) and back.
        Assert.Equal(40, sizeof(ifreq));
        var ifr = default(ifreq);
        "tap7"u8.CopyTo(new Span<byte>(&ifr, 4));
        seam.OnCall = arg => Assert.Equal("tap7"u8.ToArray(), new ReadOnlySpan<byte>((void*)arg, 4).ToArray());
        new TunIoctls(seam, 3).Tunsetiff(ref ifr);
        Assert.Equal((uint)Uapi.Tun.Constants.TUNSETIFF, seam.Request);

        // FIGETBSZ is _IO, but fs/ioctl.c put_user()s an int through arg: the wrapper takes a ref int.
        seam.OnCall = arg => *(int*)arg = 4096;
        int blockSize = 0;
        new FsIoctls(seam, 3).Figetbsz(ref blockSize);
        Assert.Equal(4096, blockSize);

        // FS_IOC_GETFLAGS is encoded _IOR(long), but the handler writes an unsigned int.
        seam.OnCall = arg => *(uint*)arg = 0x80000u;
        uint flags = 0;
        new FsIoctls(seam, 3).FsIocGetflags(ref flags);
        Assert.Equal(0x80000u, flags);

        // PERF_EVENT_IOC_SET_FILTER is encoded _IOW(char *), but arg is the string itself.
        seam.OnCall = arg => Assert.Equal("x > 1", Marshal.PtrToStringUTF8(arg));
        new PerfIoctls(seam, 3).SetFilter("x > 1");
    }

    [Fact]
    public void RealKernel_FigetbszOnAFile_GivesTheBlockSize()
    {
        string path = Path.GetTempFileName();
        try
        {
            using FileStream file = File.OpenRead(path);
            var fs = new FsIoctls(LinuxIoctlSeam.Instance, (int)file.SafeFileHandle.DangerousGetHandle());
            int blockSize = -1;
            Assert.Equal(0, fs.Figetbsz(ref blockSize));
            Assert.True(blockSize > 0 && (blockSize & (blockSize - 1)) == 0, $"block size {blockSize}");

            // An ioctl of another driver on the same file: ENOTTY, named in the exception.
            var perf = new PerfIoctls(LinuxIoctlSeam.Instance, (int)file.SafeFileHandle.DangerousGetHandle());
            Assert.Equal(Errno.ENOTTY, perf.TryEnable(0, out _));
            IoctlException e = Assert.Throws<IoctlException>(() => perf.Enable(0));
            Assert.Contains("PERF_EVENT_IOC_ENABLE", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void RealKernel_UserfaultfdApiHandshake_ThroughTheStructWrapper()
    {
        int fd = (int)syscall(SysUserfaultfd, 0x80000 /* O_CLOEXEC */);
        Assert.True(fd >= 0, $"userfaultfd failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var uffd = new UffdIoctls(LinuxIoctlSeam.Instance, fd);
            var api = new uffdio_api { api = Uapi.Uffd.Constants.UFFD_API };
            Assert.Equal(Errno.None, uffd.TryUffdioApi(ref api));

            // The handshake happens once: the kernel refuses a second one.
            var again = new uffdio_api { api = Uapi.Uffd.Constants.UFFD_API };
            Assert.Equal(Errno.EINVAL, uffd.TryUffdioApi(ref again));
        }
        finally
        {
            Assert.Equal(0, close(fd));
        }
    }

    [Fact]
    public void RealKernel_PerfEventEnableAndId_ThroughValueAndPointerWrappers()
    {
        var attr = new perf_event_attr
        {
            type = (uint)perf_type_id.PERF_TYPE_SOFTWARE,
            size = (uint)sizeof(perf_event_attr),
            config = (ulong)perf_sw_ids.PERF_COUNT_SW_TASK_CLOCK,
            disabled = 1,
        };
        int fd = (int)syscall(SysPerfEventOpen, (nint)(&attr), 0, -1, -1, 0);
        Assert.True(fd >= 0, $"perf_event_open failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var perf = new PerfIoctls(LinuxIoctlSeam.Instance, fd);
            Assert.Equal(0, perf.Enable(0));
            ulong id = ulong.MaxValue;
            Assert.Equal(0, perf.Id(ref id));
            Assert.NotEqual(ulong.MaxValue, id);
            Assert.Equal(0, perf.Disable(0));
        }
        finally
        {
            Assert.Equal(0, close(fd));
        }
    }

    private const long SysUserfaultfd = 323;
    private const long SysPerfEventOpen = 298;

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, nint a0, nint a1 = 0, nint a2 = 0, nint a3 = 0, nint a4 = 0);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    private sealed class Recorder : IIoctlSeam
    {
        public uint Request { get; private set; }

        public nint Argument { get; private set; }

        public Action<nint>? OnCall { get; set; }

        public int Ioctl(int fd, uint request, nint argument)
        {
            (Request, Argument) = (request, argument);
            OnCall?.Invoke(argument);
            return 0;
        }
    }
}
