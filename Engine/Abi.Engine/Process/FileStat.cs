using Abi.Engine.Native;

namespace Abi.Engine.Process;

/// <summary>What iommufd needs of an fd's <c>struct stat</c>: the file's identity (for pin checks across mappings of one file), its size (MAP_FILE's range check) and whether it is shmem.</summary>
internal static unsafe class FileStat
{
    /// <summary><c>fstat</c>'s st_dev, st_ino and st_size (x86_64 layout), or null when the fd is not open.</summary>
    public static (ulong Device, ulong Inode, long Size)? Of(int fd)
    {
        byte* stat = stackalloc byte[Libc.StatSize];
        return Libc.Fstat(fd, stat) == 0 ? (*(ulong*)stat, *(ulong*)(stat + 8), *(long*)(stat + 48)) : null;
    }

    /// <summary>
    /// Whether the fd's file is shmem or hugetlbfs (a memfd): the only files whose pages a domain can
    /// pin (mm/gup.c: memfd_pin_folios answers EINVAL for any other).
    /// </summary>
    public static bool IsShmem(int fd)
    {
        const long TmpfsMagic = 0x01021994, HugetlbfsMagic = 0x958458f6;
        byte* statfs = stackalloc byte[Libc.StatfsSize];
        return Libc.Fstatfs(fd, statfs) == 0 && *(long*)statfs is TmpfsMagic or HugetlbfsMagic;
    }
}
