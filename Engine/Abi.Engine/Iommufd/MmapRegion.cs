using System.Runtime.InteropServices;
using Abi.Engine.Native;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Pages an iommufd object offers to user space through <c>mmap</c> of the iommufd itself, at an
/// offset the context hands out (the mock vIOMMU's two pages; MMIO pages on real hardware). Backed
/// by a memfd, so what the engine writes and every mapping see the same bytes. A mapping holds the
/// owner busy until it is unmapped: <see cref="IsMapped"/> asks the process's mappings, because
/// the program may unmap without the engine seeing the call.
/// </summary>
internal sealed unsafe class MmapRegion : IDisposable
{
    private readonly int _fd;

    // st_dev and st_ino of the memfd, which name its mappings in /proc/self/maps.
    private readonly (ulong Device, ulong Inode) _identity;

    public MmapRegion(IommufdObject owner, ulong offset, ulong length)
    {
        Owner = owner;
        Offset = offset;
        Length = length;
        _fd = Libc.MoveOwn(Libc.MemfdCreate("abi-iommufd-mmap", 1 /* MFD_CLOEXEC */));
        if (_fd < 0)
        {
            throw new SyscallException("memfd_create", "iommufd mmap pages", (Errno)Marshal.GetLastSystemError(), $"{length} bytes");
        }

        byte* stat = stackalloc byte[Libc.StatSize];
        if (Libc.Ftruncate(_fd, (long)length) != 0 || Libc.Fstat(_fd, stat) != 0)
        {
            var errno = (Errno)Marshal.GetLastSystemError();
            Dispose();
            throw new SyscallException("ftruncate/fstat", "iommufd mmap pages", errno, $"{length} bytes and the memfd's identity");
        }

        _identity = (*(ulong*)stat, *(ulong*)(stat + 8));
    }

    public IommufdObject Owner { get; }

    /// <summary>The mmap offset on the iommufd (page aligned, never 0).</summary>
    public ulong Offset { get; }

    public ulong Length { get; }

    /// <summary>Writes into the pages (what every mapping will read).</summary>
    public void Write(long at, ReadOnlySpan<byte> bytes) => LinuxKernel.Instance.Pwrite(_fd, bytes, at);

    /// <summary>Maps the pages for the program (the checks are the caller's).</summary>
    public nint Map(nint address, int protection, int flags) =>
        LinuxKernel.Instance.Mmap(address, (nuint)Length, protection, flags, _fd, 0);

    /// <summary>Some mapping of the pages is still in place.</summary>
    public bool IsMapped() =>
        ProcessMaps.Read().All.Any(m => m.Inode == _identity.Inode && m.Device == _identity.Device);

    public void Dispose() => _ = LinuxKernel.Instance.Close(_fd);
}
