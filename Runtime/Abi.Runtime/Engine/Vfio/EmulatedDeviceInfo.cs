namespace Abi.Runtime.Engine.Vfio;

/// <summary>Where a registered device appears.</summary>
/// <param name="CdevPath">The VFIO device cdev, for the iommufd flow.</param>
/// <param name="GroupPath">The IOMMU group file, for the legacy container flow.</param>
/// <param name="Group">The IOMMU group number.</param>
public sealed record EmulatedDeviceInfo(string CdevPath, string GroupPath, int Group);
