
namespace Abi.Engine.Iommufd;

/// <summary>
/// A vDEVICE (IOMMU_VDEVICE_ALLOC): a device's identity behind a vIOMMU (<see cref="VirtId"/>, the
/// ID a guest knows it by, e.g. a virtual stream ID). One per device; the vIOMMU is busy while it
/// lives. When the device is unbound first, the vDEVICE goes with it and leaves its id taken
/// (a tombstone), so a later IOMMU_DESTROY of that id is ENOENT.
/// </summary>
internal sealed class VdeviceObject : IommufdObject
{
    public VdeviceObject(ViommuObject viommu, DeviceObject device, ulong virtId)
    {
        Viommu = viommu;
        Device = device;
        VirtId = virtId;
        viommu.Users++;
        viommu.AddVdevice(virtId, this);
        device.Vdevice = this;
    }

    public override ObjectKind Kind => ObjectKind.Vdevice;

    public ViommuObject Viommu { get; }

    public DeviceObject Device { get; }

    public ulong VirtId { get; }

    public override void Destroyed()
    {
        Viommu.RemoveVdevice(VirtId);
        Viommu.Users--;
        Device.Vdevice = null;
    }
}
