namespace Abi.Engine;

/// <summary>
/// The device numbers of the engine's /dev nodes, which fstat and sysfs show alike. Misc devices are
/// major 10 and /dev/vfio/vfio is VFIO_MINOR (196) on every kernel; /dev/iommu's minor and the VFIO
/// group and cdev majors are dynamic (MISC_DYNAMIC_MINOR, alloc_chrdev_region), so these are the engine's.
/// </summary>
internal static class DeviceNumbers
{
    public const uint MiscMajor = 10;

    public const uint VfioMinor = 196;

    public const uint IommuMinor = 123;

    public const uint VfioGroupMajor = 510;

    public const uint VfioCdevMajor = 511;
}
