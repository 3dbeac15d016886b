using System.Buffers.Binary;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Vfio;

/// <summary>An eventfd: the counter through which a device's interrupt reaches user space.</summary>
public sealed class EventFd : IDisposable
{
    private EventFd(FileDescriptor fd) => Fd = fd;

    /// <summary>The file descriptor.</summary>
    public FileDescriptor Fd { get; }

    /// <summary>Creates an eventfd (close-on-exec; non-blocking unless told otherwise).</summary>
    public static EventFd Create(IKernel kernel, uint initialValue = 0, bool nonBlocking = true)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        int flags = LinuxConstants.EFD_CLOEXEC | (nonBlocking ? LinuxConstants.EFD_NONBLOCK : 0);
        int fd = kernel.EventFd(initialValue, flags);
        if (fd < 0)
        {
            throw new SyscallException("eventfd", null, (Errno)(-fd), null);
        }

        return new EventFd(FileDescriptor.Adopt(kernel, fd, "eventfd"));
    }

    /// <summary>Adds <paramref name="value"/> to the counter, waking a reader.</summary>
    public void Signal(ulong value = 1)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        using FileDescriptor.Lease lease = Fd.Borrow();
        long n = Fd.Kernel.Write(lease.Fd, bytes);
        if (n != 8)
        {
            throw new SyscallException("write", Fd.Name, n < 0 ? (Errno)(-n) : Errno.EIO, null);
        }
    }

    /// <summary>Reads and resets the counter; false when it is zero (non-blocking eventfd).</summary>
    public bool TryRead(out ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        using FileDescriptor.Lease lease = Fd.Borrow();
        long n = Fd.Kernel.Read(lease.Fd, bytes);
        if (n == -(long)Errno.EAGAIN)
        {
            value = 0;
            return false;
        }

        if (n != 8)
        {
            throw new SyscallException("read", Fd.Name, n < 0 ? (Errno)(-n) : Errno.EIO, null);
        }

        value = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return true;
    }

    /// <summary>Waits until the counter is non-zero or <paramref name="timeoutMilliseconds"/> pass (-1: forever). True if signalled.</summary>
    public bool Wait(int timeoutMilliseconds)
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        Span<PollFd> fds = [new PollFd { Fd = lease.Fd, Events = LinuxConstants.POLLIN }];
        int n = Fd.Kernel.Poll(fds, timeoutMilliseconds);
        if (n < 0)
        {
            throw new SyscallException("poll", Fd.Name, (Errno)(-n), null);
        }

        return n > 0 && (fds[0].ReturnedEvents & LinuxConstants.POLLIN) != 0;
    }

    /// <summary>Closes it.</summary>
    public void Dispose() => Fd.Dispose();
}
