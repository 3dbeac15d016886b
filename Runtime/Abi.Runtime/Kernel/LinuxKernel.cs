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
            int fd;
            do
            {
                fd = Libc.Open(p, flags, mode);
            }
            while (fd < 0 && LastErrno() == Errno.EINTR);
            return fd < 0 ? -(int)LastErrno() : fd;
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
            nint n;
            do
            {
                n = Libc.Pread(fd, p, (nuint)buffer.Length, offset);
            }
            while (n < 0 && LastErrno() == Errno.EINTR);
            return n < 0 ? -(long)LastErrno() : n;
        }
    }

    /// <inheritdoc/>
    public long Pwrite(int fd, ReadOnlySpan<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
        {
            nint n;
            do
            {
                n = Libc.Pwrite(fd, p, (nuint)buffer.Length, offset);
            }
            while (n < 0 && LastErrno() == Errno.EINTR);
            return n < 0 ? -(long)LastErrno() : n;
        }
    }

    /// <inheritdoc/>
    public long Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n;
            do
            {
                n = Libc.Read(fd, p, (nuint)buffer.Length);
            }
            while (n < 0 && LastErrno() == Errno.EINTR);
            return n < 0 ? -(long)LastErrno() : n;
        }
    }

    /// <inheritdoc/>
    public long Write(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            nint n;
            do
            {
                n = Libc.Write(fd, p, (nuint)buffer.Length);
            }
            while (n < 0 && LastErrno() == Errno.EINTR);
            return n < 0 ? -(long)LastErrno() : n;
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
            int n;
            do
            {
                n = Libc.Poll(p, (nuint)fds.Length, timeoutMilliseconds);
            }
            while (n < 0 && LastErrno() == Errno.EINTR);
            return n < 0 ? -(int)LastErrno() : n;
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
}
