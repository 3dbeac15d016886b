using Abi.Interop;

namespace Abi.Runtime.Kernel;

/// <summary>
/// Everything a VFIO driver needs from the operating system, as one seam: served by the real kernel
/// (<see cref="LinuxKernel"/>) or by the in-process engine. Calls never throw for a failed syscall
/// and never allocate; they return the result, or <c>-errno</c> (for <see cref="Mmap"/>, an address
/// or a value in [-4095, -1], as the raw syscall does). File descriptors are raw here; the public
/// API wraps them in <see cref="FileDescriptor"/>.
/// </summary>
public interface IKernel : IIoctlSeam
{
    /// <summary>The backend's name: <c>kernel</c> or <c>engine</c>.</summary>
    string Name { get; }

    /// <summary>Why the last failed call on this thread failed, when the backend can tell (the engine can, the kernel cannot).</summary>
    string? LastErrorReason { get; }

    /// <summary><c>open(path, flags, mode)</c>; the path is NUL-terminated UTF-8.</summary>
    int Open(ReadOnlySpan<byte> path, int flags, int mode);

    /// <summary><c>close(fd)</c>. Never retried: Linux releases the fd even when close reports an error.</summary>
    int Close(int fd);

    /// <summary><c>mmap</c>: the address, or <c>-errno</c>.</summary>
    nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    /// <summary><c>munmap</c>.</summary>
    int Munmap(nint address, nuint length);

    /// <summary><c>pread</c>: bytes read, or <c>-errno</c>.</summary>
    long Pread(int fd, Span<byte> buffer, long offset);

    /// <summary><c>pwrite</c>: bytes written, or <c>-errno</c>.</summary>
    long Pwrite(int fd, ReadOnlySpan<byte> buffer, long offset);

    /// <summary><c>read</c>: bytes read, or <c>-errno</c>.</summary>
    long Read(int fd, Span<byte> buffer);

    /// <summary><c>write</c>: bytes written, or <c>-errno</c>.</summary>
    long Write(int fd, ReadOnlySpan<byte> buffer);

    /// <summary><c>lseek(fd, offset, whence)</c>: the new position, or <c>-errno</c> (ESPIPE for a file that cannot seek, as VFIO's and iommufd's cannot).</summary>
    long Lseek(int fd, long offset, int whence);

    /// <summary><c>readlink(path, buffer)</c>: the link's target (no NUL, cut to the buffer), its length in bytes, or <c>-errno</c>; the path is NUL-terminated UTF-8.</summary>
    int ReadLink(ReadOnlySpan<byte> path, Span<byte> buffer);

    /// <summary><c>getdents64(fd, buffer)</c> on a directory fd: bytes of <c>linux_dirent64</c> records (see <see cref="DirectoryEntries"/>), 0 at the end, or <c>-errno</c>.</summary>
    long GetDents64(int fd, Span<byte> buffer);

    /// <summary><c>eventfd(initval, flags)</c>: a new fd, or <c>-errno</c>.</summary>
    int EventFd(uint initialValue, int flags);

    /// <summary><c>poll</c>: the number of ready fds, 0 on timeout, or <c>-errno</c>.</summary>
    int Poll(Span<PollFd> fds, int timeoutMilliseconds);
}
