namespace Abi.Model;

/// <summary>The kind of file an ioctl is issued on. VFIO reuses numbers across kinds, so an ioctl is keyed by name and kind.</summary>
public enum FdKind
{
    /// <summary><c>/dev/iommu</c>.</summary>
    Iommufd,

    /// <summary>The legacy VFIO container, <c>/dev/vfio/vfio</c>.</summary>
    Container,

    /// <summary>A VFIO group, <c>/dev/vfio/N</c>.</summary>
    Group,

    /// <summary>A VFIO device: a cdev <c>/dev/vfio/devices/vfioN</c> or a fd from <c>VFIO_GROUP_GET_DEVICE_FD</c>.</summary>
    Device,

    /// <summary>Any other file (ioctls of a user's own header).</summary>
    Other,
}
