using Abi.Runtime.Engine.Vfio;

namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// A device bound to a context (VFIO_DEVICE_BIND_IOMMUFD): what it is attached to, and the IOAS
/// holding its reserved regions. VFIO owns it: IOMMU_DESTROY on it is EBUSY; closing the device
/// fd unbinds it.
/// </summary>
internal sealed class DeviceObject(EmulatedDevice device) : IommufdObject
{
    public override ObjectKind Kind => ObjectKind.Device;

    public EmulatedDevice Device { get; } = device;

    /// <summary>The paging HWPT the device is attached to, or null (DMA blocked).</summary>
    public HwptPagingObject? Hwpt { get; set; }
}
