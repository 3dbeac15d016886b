using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Runtime.Native;

namespace Abi.Runtime.Kernel;

/// <summary>
/// The real kernel, through libc. Calls that the kernel may interrupt before doing anything
/// (open, read, write, pread, pwrite, poll) are retried on EINTR; close is never retried (the fd
/// is gone either way) and neither is ioctl (not every ioctl may be repeated). A retried poll waits
/// its whole timeout again, so an interrupted wait can last longer than asked.
/// </summary>
public sealed unsafe class LinuxKernel : IKernel
{
    private LinuxKernel()
    {
    }

    /// <summary>The one instance.</summary>
    public static LinuxKernel Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "kernel";

    /// <inheritdoc/>
    public string? LastErrorReason => null;

    /// <inheritdoc/>
    public int Open(ReadOnlySpan<byte> path, int flags, int mode)
    {
        if (path.IsEmpty || path[^1] != 0)
        {
            return -(int)Errno.EINVAL;
        }

        fixed (byte* p = path)
        {
            return (int)Restarting(&OpenCall, flags, p, (nuint)mode, 0);
        }
    }

    /// <inheritdoc/>
    public int Close(int fd) => Libc.Close(fd) < 0 ? -(int)LastErrno() : 0;

    /// <inheritdoc/>
    public int Ioctl(int fd, uint request, nint argument)
    {
        int result = Libc.Ioctl(fd, request, argument);
        return result < 0 ? -(int)LastErrno() : result;
    }

    /// <inheritdoc/>
    public nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset)
    {
        nint result = Libc.Mmap(address, length, protection, flags, fd, offset);
        return result == -1 ? -(nint)LastErrno() : result;
    }

    /// <inheritdoc/>
    public int Munmap(nint address, nuint length) => Libc.Munmap(address, length) < 0 ? -(int)LastErrno() : 0;

    /// <inheritdoc/>
    public long Pread(int fd, Span<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
        {
            return Restarting(&PreadCall, fd, p, (nuint)buffer.Length, offset);
        }
    }

    /// <inheritdoc/>
    public long Pwrite(int fd, ReadOnlySpan<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
        {
            return Restarting(&PwriteCall, fd, p, (nuint)buffer.Length, offset);
        }
    }

    /// <inheritdoc/>
    public long Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return Restarting(&ReadCall, fd, p, (nuint)buffer.Length, 0);
        }
    }

    /// <inheritdoc/>
    public long Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return Restarting(&WriteCall, fd, p, (nuint)buffer.Length, 0);
        }
    }

    /// <inheritdoc/>
    public long Lseek(int fd, long offset, int whence)
    {
        long position = Libc.Lseek(fd, offset, whence);
        return position < 0 ? -(long)LastErrno() : position;
    }

    /// <inheritdoc/>
    public int ReadLink(ReadOnlySpan<byte> path, Span<byte> buffer)
    {
        if (path.IsEmpty || path[^1] != 0)
        {
            return -(int)Errno.EINVAL;
        }

        fixed (byte* p = path)
        fixed (byte* b = buffer)
        {
            nint n = Libc.Readlink(p, b, (nuint)buffer.Length);
            return n < 0 ? -(int)LastErrno() : (int)n;
        }
    }

    /// <inheritdoc/>
    public long GetDents64(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return Restarting(&GetDentsCall, fd, p, (nuint)buffer.Length, 0);
        }
    }

    /// <inheritdoc/>
    public int EventFd(uint initialValue, int flags)
    {
        int fd = Libc.Eventfd(initialValue, flags);
        return fd < 0 ? -(int)LastErrno() : fd;
    }

    /// <inheritdoc/>
    public int Poll(Span<PollFd> fds, int timeoutMilliseconds)
    {
        fixed (PollFd* p = fds)
        {
            return (int)Restarting(&PollCall, timeoutMilliseconds, p, (nuint)fds.Length, 0);
        }
    }

    /// <summary>Creates a pipe (for tests and tools): read end, write end.</summary>
    internal static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Libc.Pipe2(fds, LinuxConstants.O_CLOEXEC) < 0)
        {
            throw new SyscallException("pipe2", null, LastErrno(), null);
        }

        return (fds[0], fds[1]);
    }

    private static Errno LastErrno() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>
    /// The one EINTR loop: repeats <paramref name="call"/> while the kernel reports it was
    /// interrupted before doing anything, then turns a failure into <c>-errno</c>. The calls share
    /// one shape (an int, a pointer, a count, an offset) through the adapters below.
    /// </summary>
    private static long Restarting(delegate*<int, void*, nuint, long, nint> call, int value, void* pointer, nuint count, long offset)
    {
        nint n;
        do
        {
            n = call(value, pointer, count, offset);
        }
        while (n < 0 && LastErrno() == Errno.EINTR);
        return n < 0 ? -(long)LastErrno() : n;
    }

    private static nint OpenCall(int flags, void* path, nuint mode, long unused) => Libc.Open((byte*)path, flags, (int)mode);

    private static nint PreadCall(int fd, void* buffer, nuint length, long offset) => Libc.Pread(fd, (byte*)buffer, length, offset);

    private static nint PwriteCall(int fd, void* buffer, nuint length, long offset) => Libc.Pwrite(fd, (byte*)buffer, length, offset);

    private static nint ReadCall(int fd, void* buffer, nuint length, long unused) => Libc.Read(fd, (byte*)buffer, length);

    private static nint WriteCall(int fd, void* buffer, nuint length, long unused) => Libc.Write(fd, (byte*)buffer, length);

    private static nint GetDentsCall(int fd, void* buffer, nuint length, long unused) => Libc.Getdents64(fd, (byte*)buffer, length);

    private static nint PollCall(int timeoutMilliseconds, void* fds, nuint count, long unused) => Libc.Poll((PollFd*)fds, count, timeoutMilliseconds);
}
