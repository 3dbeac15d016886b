using S = Abi.Linux.Sys.Constants;

namespace Abi.Runtime.Kernel;

#pragma warning disable CS1591 // libc constants under their C names; see the man pages.

/// <summary>
/// The flag values the seam takes, under their C names: the values of the pinned 7.2 UAPI headers
/// (asm-generic/fcntl.h, linux/mman.h, asm-generic/mman-common.h, linux/eventfd.h, asm-generic/poll.h,
/// asm-generic/ioctls.h, linux/fs.h), which x86_64 and arm64 share. Page sizes are the machine's, not a header's.
/// </summary>
public static class LinuxConstants
{
    public const int O_RDONLY = S.O_RDONLY;
    public const int O_WRONLY = S.O_WRONLY;
    public const int O_RDWR = S.O_RDWR;
    public const int O_CREAT = S.O_CREAT;
    public const int O_TRUNC = S.O_TRUNC;
    public const int O_NONBLOCK = S.O_NONBLOCK;
    public const int O_APPEND = S.O_APPEND;
    public const int O_CLOEXEC = S.O_CLOEXEC;

    /// <summary>asm-generic's value, x86_64's; arm64's asm/fcntl.h has its own (040000).</summary>
    public const int O_DIRECTORY = S.O_DIRECTORY;

    /// <summary>asm-generic's value, x86_64's; arm64's asm/fcntl.h has its own (0100000).</summary>
    public const int O_NOFOLLOW = S.O_NOFOLLOW;

    /// <summary>A descriptor that only names a file (asm-generic's value, x86_64's and arm64's).</summary>
    public const int O_PATH = S.O_PATH;

    /// <summary>The access-mode bits of the open flags.</summary>
    public const int O_ACCMODE = S.O_ACCMODE;

    public const int PROT_NONE = S.PROT_NONE;
    public const int PROT_READ = S.PROT_READ;
    public const int PROT_WRITE = S.PROT_WRITE;
    public const int PROT_EXEC = S.PROT_EXEC;

    public const int MAP_SHARED = S.MAP_SHARED;
    public const int MAP_PRIVATE = S.MAP_PRIVATE;
    public const int MAP_ANONYMOUS = S.MAP_ANONYMOUS;
    public const int MAP_FIXED = S.MAP_FIXED;
    public const int MAP_POPULATE = S.MAP_POPULATE;
    public const int MAP_HUGETLB = S.MAP_HUGETLB;

    /// <summary>MAP_HUGETLB with a 2 MiB page (21 in the MAP_HUGE_SHIFT bits).</summary>
    public const int MAP_HUGE_2MB = (int)S.MAP_HUGE_2MB;

    public const int EFD_NONBLOCK = S.EFD_NONBLOCK;
    public const int EFD_CLOEXEC = S.EFD_CLOEXEC;

    /// <summary>lseek's whence (linux/fs.h): from the start, the position, the end; the next data, the next hole.</summary>
    public const int SEEK_SET = S.SEEK_SET;
    public const int SEEK_CUR = S.SEEK_CUR;
    public const int SEEK_END = S.SEEK_END;
    public const int SEEK_DATA = S.SEEK_DATA;
    public const int SEEK_HOLE = S.SEEK_HOLE;

    /// <summary>The last whence lseek knows (SEEK_HOLE): ksys_lseek refuses one past it with EINVAL, before the file is asked.</summary>
    public const int SEEK_MAX = S.SEEK_MAX;

    public const short POLLIN = S.POLLIN;
    public const short POLLOUT = S.POLLOUT;
    public const short POLLERR = S.POLLERR;
    public const short POLLRDNORM = S.POLLRDNORM;
    public const short POLLWRNORM = S.POLLWRNORM;
    public const short POLLPRI = S.POLLPRI;

    /// <summary>FIONREAD: bytes available to read.</summary>
    public const uint FIONREAD = S.FIONREAD;

    /// <summary>FIOCLEX / FIONCLEX: set or clear the descriptor's close-on-exec flag.</summary>
    public const uint FIOCLEX = S.FIOCLEX;

    /// <inheritdoc cref="FIOCLEX"/>
    public const uint FIONCLEX = S.FIONCLEX;

    /// <summary>FIONBIO: set or clear O_NONBLOCK from an int.</summary>
    public const uint FIONBIO = S.FIONBIO;

    /// <summary>FIOASYNC: set or clear FASYNC from an int.</summary>
    public const uint FIOASYNC = S.FIOASYNC;

    public const int PageSize = 4096;

    /// <summary>PAGE_ALIGN: <paramref name="length"/> rounded up to whole pages (0 when that wraps).</summary>
    public static ulong PageAlign(ulong length) => (length + PageSize - 1) & ~(ulong)(PageSize - 1);
    public const int HugePageSize = 2 * 1024 * 1024;
}
