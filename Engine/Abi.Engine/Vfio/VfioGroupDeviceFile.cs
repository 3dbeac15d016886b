using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>
/// A device fd from VFIO_GROUP_GET_DEVICE_FD: usable at once (no bind), and there may be several;
/// the device is opened with the first and closed with the last, whichever group file they came
/// from. ATTACH/DETACH_IOMMUFD_PT are not ioctls here (ENOTTY), as in the kernel.
/// </summary>
internal sealed class VfioGroupDeviceFile : VfioDeviceFile
{
    private readonly VfioGroupFile _group;

    public VfioGroupDeviceFile(EmulatedKernel kernel, EmulatedDevice device, VfioGroupFile group, bool first)
        : base(kernel, device)
    {
        _group = group;
        group.DeviceFds++;
        Device.GroupOpenCount++;
        if (first)
        {
            Device.Owner = this;
            OpenDevice();
        }
    }

    public override string Name => $"{Device.GroupPath}:{Device.PciName}";

    // vfio_device_open_file: an anonymous inode (anon_inode_getfile_fmode).
    public override bool NoExec => true;

    public override bool Usable => true;

    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        // vfio_main.c: vfio_device_fops_unl_ioctl sends BIND_IOMMUFD to its handler on every device
        // fd, which checks the argument and only then refuses a group's device fd (df->group).
        if (request == Constants.VFIO_DEVICE_BIND_IOMMUFD)
        {
            int rc = ReadBindArgument((ulong)argument, out _, out _);
            return rc < 0 ? rc : Fail(Errno.EINVAL, "VFIO_DEVICE_BIND_IOMMUFD is for a device cdev, not a group's device fd");
        }

        return base.Ioctl(thread, request, argument);
    }

    public override void Release()
    {
        lock (Device.Sync)
        {
            // vfio_df_close: the device's last fd closes it and undoes its binding (vfio_df_iommufd_unbind).
            if (--Device.GroupOpenCount == 0)
            {
                CloseDevice();
                Device.Owner = null;
                if (Device.GroupBinding is var (bound, context))
                {
                    context.Unbind(bound);
                    Device.GroupBinding = null;
                }
            }

            _group.DeviceFdClosed();
        }
    }
}
