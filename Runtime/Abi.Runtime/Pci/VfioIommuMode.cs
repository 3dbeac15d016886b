namespace Abi.Runtime.Pci;

/// <summary>
/// How a driver reaches a device's DMA through VFIO: the five IOMMU modes the kernel's VFIO selftests
/// run every fixture in (tools/testing/selftests/vfio/lib), and no-IOMMU mode.
/// </summary>
public enum VfioIommuMode
{
    /// <summary><c>vfio_type1_iommu</c>: a container (<c>/dev/vfio/vfio</c>) with VFIO_TYPE1_IOMMU, the group's device fd.</summary>
    Type1,

    /// <summary><c>vfio_type1v2_iommu</c>: the same with VFIO_TYPE1v2_IOMMU.</summary>
    Type1v2,

    /// <summary><c>iommufd_compat_type1</c>: <c>/dev/iommu</c> used as the container (iommufd's compat layer), VFIO_TYPE1_IOMMU.</summary>
    IommufdCompatType1,

    /// <summary><c>iommufd_compat_type1v2</c>: the same with VFIO_TYPE1v2_IOMMU.</summary>
    IommufdCompatType1v2,

    /// <summary><c>iommufd</c>: the device's cdev bound to an iommufd, attached to an IOAS.</summary>
    Iommufd,

    /// <summary>No IOMMU (<c>enable_unsafe_noiommu_mode</c>): the <c>noiommu-N</c> group, VFIO_NOIOMMU_IOMMU; nothing translates or isolates the device's DMA.</summary>
    NoIommu,
}
