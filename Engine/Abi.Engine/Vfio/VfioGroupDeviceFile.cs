
namespace Abi.Engine.Vfio;

/// <summary>
/// A device fd from VFIO_GROUP_GET_DEVICE_FD: usable at once (no bind), and there may be several;
/// the device is opened with the first and closed with the last. ATTACH/DETACH_IOMMUFD_PT are not
/// ioctls here (ENOTTY), as in the kernel.
/// </summary>
internal sealed class VfioGroupDeviceFile : VfioDeviceFile
{
    private readonly VfioGroupFile _group;

    public VfioGroupDeviceFile(EmulatedKernel kernel, EmulatedDevice device, VfioGroupFile group, bool first)
        : base(kernel, device)
    {
        _group = group;
        group.DeviceFds++;
        if (first)
        {
            Device.Owner = this;
            OpenDevice();
        }
    }

    public override string Name => $"{Device.GroupPath}:{Device.PciName}";

    public override bool Usable => true;

    public override void Release()
    {
        lock (Device.Sync)
        {
            if (_group.DeviceFds == 1)
            {
                CloseDevice();
                Device.Owner = null;
            }

            _group.DeviceFdClosed();
        }
    }
}
