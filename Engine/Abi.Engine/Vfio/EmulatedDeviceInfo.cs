
namespace Abi.Engine.Vfio;

/// <summary>Where a registered device appears.</summary>
/// <param name="CdevPath">The VFIO device cdev, for the iommufd flow (null for a no-IOMMU device, which has none).</param>
/// <param name="GroupPath">The IOMMU group file, for the legacy container flow.</param>
/// <param name="Group">The IOMMU group number.</param>
/// <param name="PciName">The device's name in its group (VFIO_GROUP_GET_DEVICE_FD).</param>
public sealed record EmulatedDeviceInfo(string? CdevPath, string GroupPath, int Group, string PciName);
