using Abi.Engine.Native;

namespace Abi.Engine.Process;

/// <summary>What iommufd needs of an fd's <c>struct stat</c>: the file's identity (for pin checks across mappings of one file) and its size (MAP_FILE's range check).</summary>
internal static unsafe class FileStat
{
    /// <summary><c>fstat</c>'s st_dev, st_ino and st_size (x86_64 layout), or null when the fd is not open.</summary>
    public static (ulong Device, ulong Inode, long Size)? Of(int fd)
    {
        byte* stat = stackalloc byte[Libc.StatSize];
        return Libc.Fstat(fd, stat) == 0 ? (*(ulong*)stat, *(ulong*)(stat + 8), *(long*)(stat + 48)) : null;
    }
}
