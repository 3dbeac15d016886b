namespace Abi.Engine.Process;

/// <summary>
/// What fstat shows of an engine file beyond what its reserved descriptor already carries (owner,
/// times): the inode's type and permission bits, a character device's number, and the size.
/// </summary>
internal readonly record struct InodeAttributes(uint Mode, uint Major, uint Minor, long Size)
{
    private const uint CharDeviceType = 0x2000, DirectoryType = 0x4000, RegularType = 0x8000, LinkType = 0xA000;

    /// <summary>
    /// An anonymous inode's (the group's device fds, iommufd's event queues and accesses, dma-bufs):
    /// owner read and write, and no type, which anon_inode_getattr masks off and dma-buf's inode never
    /// had; a dma-buf's size is the buffer's.
    /// </summary>
    public static InodeAttributes AnonymousInode(long size = 0) => new(0x180, 0, 0, size);

    /// <summary>A /dev node: a character device with the mode its driver gives it.</summary>
    public static InodeAttributes CharDevice(uint permissions, uint major, uint minor) => new(CharDeviceType | permissions, major, minor, 0);

    /// <summary>A regular file, as sysfs attributes and procfs files are.</summary>
    public static InodeAttributes Regular(uint permissions, long size) => new(RegularType | permissions, 0, 0, size);

    /// <summary>A directory (a sysfs or /dev directory: rwxr-xr-x).</summary>
    public static InodeAttributes Directory => new(DirectoryType | 0x1ED, 0, 0, 0);

    /// <summary>A symbolic link (rwxrwxrwx), as long as its target.</summary>
    public static InodeAttributes Link(int targetLength) => new(LinkType | 0x1FF, 0, 0, targetLength);

    /// <summary>makedev's encoding of <see cref="Major"/> and <see cref="Minor"/>, as st_rdev holds it.</summary>
    public ulong DeviceNumber =>
        (((ulong)Major & 0xFFFFF000) << 32) | (((ulong)Major & 0xFFF) << 8) | (((ulong)Minor & 0xFFFFFF00) << 12) | ((ulong)Minor & 0xFF);
}
