namespace Abi.Runtime.Kernel;

#pragma warning disable CS1591 // libc constants under their C names; see the man pages.

/// <summary>The libc flag values the seam takes, as x86_64 and arm64 Linux define them.</summary>
public static class LinuxConstants
{
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_TRUNC = 0x200;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int PROT_NONE = 0;
    public const int PROT_READ = 1;
    public const int PROT_WRITE = 2;
    public const int PROT_EXEC = 4;

    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_POPULATE = 0x8000;
    public const int MAP_HUGETLB = 0x40000;

    /// <summary>MAP_HUGETLB with a 2 MiB page (21 in the MAP_HUGE_SHIFT bits).</summary>
    public const int MAP_HUGE_2MB = 21 << 26;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLRDNORM = 0x40;

    /// <summary>FIONREAD: bytes available to read.</summary>
    public const uint FIONREAD = 0x541B;

    public const int PageSize = 4096;
    public const int HugePageSize = 2 * 1024 * 1024;
}
