using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Runtime.Kernel;
using Abi.Runtime.Native;

namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// Pages an iommufd object offers to user space through <c>mmap</c> of the iommufd itself, at an
/// offset the context hands out (the mock vIOMMU's two pages; MMIO pages on real hardware). Backed
/// by a memfd, so the engine and every mapping see the same bytes. A mapping holds the owner busy
/// until it is unmapped: <see cref="IsMapped"/> asks the process's mappings, because the program
/// may unmap without the engine seeing the call.
/// </summary>
internal sealed unsafe class MmapRegion : IDisposable
{
    private readonly int _fd;
    private readonly byte* _view;

    public MmapRegion(IommufdObject owner, ulong offset, ulong length)
    {
        Owner = owner;
        Offset = offset;
        Length = length;
        _fd = Libc.MemfdCreate("abi-iommufd-mmap", 1 /* MFD_CLOEXEC */);
        if (_fd < 0 || Libc.Ftruncate(_fd, (long)length) != 0)
        {
            throw new SyscallException("memfd_create", "iommufd mmap pages", (Errno)Marshal.GetLastSystemError(), $"{length} bytes");
        }

        nint view = LinuxKernel.Instance.Mmap(0, (nuint)length, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, _fd, 0);
        if (view < 0)
        {
            _ = Libc.Close(_fd);
            throw new SyscallException("mmap", "iommufd mmap pages", (Errno)(-view), "the engine's view");
        }

        _view = (byte*)view;
        byte* stat = stackalloc byte[Libc.StatSize];
        if (Libc.Fstat(_fd, stat) != 0)
        {
            Errno errno = (Errno)Marshal.GetLastSystemError();
            Dispose();
            throw new SyscallException("fstat", "iommufd mmap pages", errno, "the memfd's identity, which names its mappings");
        }

        Identity = (*(ulong*)stat, *(ulong*)(stat + 8));
    }

    public IommufdObject Owner { get; }

    /// <summary>The mmap offset on the iommufd (page aligned, never 0).</summary>
    public ulong Offset { get; }

    public ulong Length { get; }

    /// <summary>The engine's own view of the pages.</summary>
    public Span<byte> Span => new(_view, (int)Length);

    // st_dev and st_ino of the memfd, which name its mappings in /proc/self/maps.
    private (ulong Device, ulong Inode) Identity { get; }

    /// <summary>Maps the pages for the program (the checks are the caller's).</summary>
    public nint Map(nint address, int protection, int flags) =>
        LinuxKernel.Instance.Mmap(address, (nuint)Length, protection, flags, _fd, 0);

    /// <summary>Some mapping of the pages other than the engine's own view is still in place.</summary>
    public bool IsMapped()
    {
        int views = 0;
        foreach (ProcessMaps.Mapping m in ProcessMaps.Read().All)
        {
            if (m.Inode == Identity.Inode && m.Device == Identity.Device)
            {
                views++;
            }
        }

        return views > 1;
    }

    public void Dispose()
    {
        _ = LinuxKernel.Instance.Munmap((nint)_view, (nuint)Length);
        _ = Libc.Close(_fd);
    }
}
