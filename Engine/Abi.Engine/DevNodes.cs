using Abi.Engine.Process;

namespace Abi.Engine;

/// <summary>
/// The engine's /dev nodes as stat and fstat show them, and the numbers sysfs gives for them. Misc
/// devices are major 10 and /dev/vfio/vfio is VFIO_MINOR (196) on every kernel; /dev/iommu's minor and
/// the VFIO group and cdev majors are dynamic (MISC_DYNAMIC_MINOR, alloc_chrdev_region), so those
/// numbers are the engine's.
/// </summary>
internal static class DevNodes
{
    public const uint MiscMajor = 10;

    public const uint VfioMinor = 196;

    public const uint IommuMinor = 123;

    public const uint VfioGroupMajor = 510;

    public const uint VfioCdevMajor = 511;

    /// <summary>iommufd's misc device (iommu_misc_dev: mode 0660).</summary>
    public static InodeAttributes Iommu => InodeAttributes.CharDevice(0x1B0, MiscMajor, IommuMinor);

    /// <summary>/dev/vfio/vfio, container.c's or iommufd's vfio_misc_dev (mode 0666).</summary>
    public static InodeAttributes VfioContainer => InodeAttributes.CharDevice(0x1B6, MiscMajor, VfioMinor);

    /// <summary>A group's character device (vfio_devnode gives no mode: 0600).</summary>
    public static InodeAttributes Group(int group) => InodeAttributes.CharDevice(0x180, VfioGroupMajor, (uint)group);

    /// <summary>A device's cdev (0600), whose number sysfs's vfio-dev/vfioN/dev also gives.</summary>
    public static InodeAttributes Cdev(int index) => InodeAttributes.CharDevice(0x180, VfioCdevMajor, (uint)index);
}
