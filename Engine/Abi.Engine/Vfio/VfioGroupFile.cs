using System.Runtime.InteropServices;
using Abi.Engine.Iommufd;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>
/// An IOMMU group file <c>/dev/vfio/G</c> (drivers/vfio/group.c): set to a native container or to an iommufd
/// (compat), it hands out device fds. Device fds keep the group alive: closing the group fd while
/// they are open defers the detach until the last one closes, as the kernel's references do.
/// </summary>
internal sealed unsafe class VfioGroupFile(EmulatedKernel kernel, EmulatedDevice device) : EngineFile
{
    private bool _closed;

    public override string Name => Device.GroupPath;

    public EmulatedDevice Device { get; } = device;

    public VfioContainerFile? Container { get; private set; }

    public IommufdFile? Iommufd { get; private set; }

    /// <summary>Open device fds obtained from this group.</summary>
    public int DeviceFds { get; set; }

    /// <summary>The device's binding in the compat context while device fds are open.</summary>
    public DeviceObject? Bound { get; set; }

    public override int Ioctl(uint request, nint argument)
    {
        if (argument == 0 && request is Constants.VFIO_GROUP_GET_STATUS or Constants.VFIO_GROUP_SET_CONTAINER or Constants.VFIO_GROUP_GET_DEVICE_FD)
        {
            return Fail(Errno.EFAULT, "the argument pointer is NULL");
        }

        lock (Device.Sync)
        {
            return request switch
            {
                Constants.VFIO_GROUP_GET_STATUS => GetStatus(ref *(vfio_group_status*)argument),
                Constants.VFIO_GROUP_SET_CONTAINER => SetContainer(*(int*)argument),
                Constants.VFIO_GROUP_UNSET_CONTAINER => UnsetContainer(),
                Constants.VFIO_GROUP_GET_DEVICE_FD => GetDeviceFd(MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)argument)),
                _ => Fail(Errno.ENOTTY, $"0x{request:X} is not a VFIO group ioctl"),
            };
        }
    }

    public override void Release()
    {
        lock (Device.Sync)
        {
            _closed = true;
            Device.OpenGroup = null;
            if (DeviceFds == 0)
            {
                Detach();
            }
        }
    }

    /// <summary>The last device fd closed (device lock held): a closed group now lets go of its container.</summary>
    public void DeviceFdClosed()
    {
        DeviceFds--;
        if (DeviceFds == 0)
        {
            if (Bound is not null)
            {
                Iommufd!.Unbind(Bound);
                Bound = null;
            }

            if (_closed)
            {
                Detach();
            }
        }
    }

    private int GetStatus(ref vfio_group_status status)
    {
        if (status.argsz < 8)
        {
            return Fail(Errno.EINVAL, $"argsz {status.argsz} is below 8");
        }

        status.flags = (uint)Constants.VFIO_GROUP_FLAGS_VIABLE | (Container is not null || Iommufd is not null ? (uint)Constants.VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
        return 0;
    }

    private int SetContainer(int fd)
    {
        if (fd < 0 || !kernel.IsOpenFile(fd))
        {
            return Fail(Errno.EBADF, $"fd {fd} is not open");
        }

        if (Container is not null || Iommufd is not null)
        {
            return Fail(Errno.EINVAL, "the group is in a container already");
        }

        switch (kernel.FileOf(fd))
        {
            case VfioContainerFile container:
                if (container.AddGroup(this) is < 0 and int failed)
                {
                    return failed;
                }

                Container = container;
                return 0;
            case IommufdFile context:
                if (context.CompatAddGroup(Device) is < 0 and int refused)
                {
                    return refused;
                }

                Iommufd = context;
                return 0;
            default:
                return Fail(Errno.EBADFD, $"fd {fd} is neither a VFIO container nor an iommufd");
        }
    }

    private int UnsetContainer()
    {
        if (Container is null && Iommufd is null)
        {
            return Fail(Errno.EINVAL, "the group is in no container");
        }

        if (DeviceFds > 0)
        {
            return Fail(Errno.EBUSY, $"{DeviceFds} device fd(s) of the group are open");
        }

        Detach();
        return 0;
    }

    private int GetDeviceFd(ReadOnlySpan<byte> name)
    {
        if (Container is null && Iommufd is null)
        {
            return Fail(Errno.EINVAL, "the group is in no container");
        }

        if (Container is { HasBackend: false })
        {
            return Fail(Errno.EINVAL, "the container has no IOMMU backend (VFIO_SET_IOMMU first)");
        }

        if (!name.SequenceEqual(System.Text.Encoding.ASCII.GetBytes(Device.PciName)))
        {
            return Fail(Errno.ENODEV, $"\"{System.Text.Encoding.UTF8.GetString(name)}\" is not in group {Device.Group} (it holds {Device.PciName})");
        }

        bool first = DeviceFds == 0;
        if (first && Iommufd is not null && !Device.NoIommu)
        {
            DeviceObject bound = Iommufd.Bind(Device, IommuUnit.Vtd);
            uint ioas = Iommufd.CompatIoas?.Id ?? 0;
            int rc = Iommufd.Attach(bound, ref ioas);
            if (rc < 0)
            {
                Iommufd.Unbind(bound);
                return rc;
            }

            Bound = bound;
        }

        int fd = kernel.AddFile(new VfioGroupDeviceFile(kernel, Device, this, first));
        if (fd < 0 && first && Bound is not null)
        {
            Iommufd!.Unbind(Bound);
            Bound = null;
        }

        if (fd >= 0 && first && Iommufd is not null && Device.NoIommu)
        {
            Device.Model.Dma.AttachDirect(kernel.Memory);
        }

        return fd;
    }

    private void Detach()
    {
        Container?.RemoveGroup(this);      // an iommufd keeps its compat IOAS when a group leaves
        Device.Model.Dma.Detach();
        Container = null;
        Iommufd = null;
    }
}
