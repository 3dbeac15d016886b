
namespace Abi.Engine;

/// <summary>Which kernel the engine imitates behind <c>/dev/vfio/vfio</c>.</summary>
public enum ContainerBackend
{
    /// <summary>The legacy VFIO container with the type1 IOMMU backend (vfio_iommu_type1).</summary>
    Type1,

    /// <summary>iommufd serving the container ioctls (CONFIG_IOMMUFD_VFIO_CONTAINER): the compat layer, with its differences.</summary>
    Iommufd,
}
