using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
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

    // A character device's open gives FMODE_PREAD and FMODE_PWRITE (vfio_group_fops_open keeps them):
    // pread and pwrite are EINVAL for want of read and write methods, not ESPIPE.
    public override bool CanSeek => true;

    public override InodeAttributes Attributes => DevNodes.Group(Device.Group);

    public EmulatedDevice Device { get; } = device;

    public VfioContainerFile? Container { get; private set; }

    public IommufdFile? Iommufd { get; private set; }

    /// <summary>Open device fds obtained from this group file (the device's own count is <see cref="EmulatedDevice.GroupOpenCount"/>).</summary>
    public int DeviceFds { get; set; }

    /// <summary>group.c: vfio_group_fops_unl_ioctl; every argument is copied in as the kernel copies it.</summary>
    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        ulong arg = (ulong)argument;
        switch (request)
        {
            case Constants.VFIO_GROUP_GET_STATUS:
                {
                    var status = default(vfio_group_status);
                    if (!UserAccess.TryRead(arg, out status))
                    {
                        return Fail(Errno.EFAULT, "the vfio_group_status cannot be read");
                    }

                    int rc;
                    lock (Device.Sync)
                    {
                        rc = GetStatus(ref status);
                    }

                    return rc != 0 || UserAccess.TryWrite(arg, status) ? rc : Fail(Errno.EFAULT, "the vfio_group_status cannot be written back");
                }

            case Constants.VFIO_GROUP_SET_CONTAINER:
                if (!UserAccess.TryRead(arg, out int fd))
                {
                    return Fail(Errno.EFAULT, "the container fd cannot be read");
                }

                lock (Device.Sync)
                {
                    return SetContainer(fd);
                }

            case Constants.VFIO_GROUP_UNSET_CONTAINER:
                lock (Device.Sync)
                {
                    return UnsetContainer();
                }

            case Constants.VFIO_GROUP_GET_DEVICE_FD:
                {
                    // strndup_user(arg, PAGE_SIZE): EFAULT on a fault before the NUL, EINVAL past a page.
                    Span<byte> name = stackalloc byte[LinuxConstants.PageSize + 1];
                    int length = UserAccess.StrnlenUser(arg, name[..LinuxConstants.PageSize]);
                    if (length <= 0)
                    {
                        return Fail(length == 0 ? Errno.EFAULT : Errno.EINVAL, length == 0 ? "the device name cannot be read" : "the device name has no NUL within a page");
                    }

                    lock (Device.Sync)
                    {
                        return GetDeviceFd(name[..(length - 1)]);
                    }
                }

            default:
                return Fail(Errno.ENOTTY, $"0x{request:X} is not a VFIO group ioctl");
        }
    }

    public override void Release()
    {
        lock (Device.Sync)
        {
            // A container's open devices hold the group's file (vfio_group_use_container: get_file), so
            // its release, and with it opened_file, waits for the last of them; another open or a cdev
            // bind is EBUSY until then. Through an iommufd they hold no such reference: the group is
            // released now and lets go of the iommufd, the devices stay bound to it (df->iommufd).
            _closed = true;
            if (DeviceFds == 0)
            {
                Device.OpenGroup = null;
                Detach();
            }
            else if (Container is null)
            {
                Device.OpenGroup = null;
                DropIommufd();
            }
        }
    }

    /// <summary>A device fd of this group file closed (device lock held, after the device's own count): a closed group lets go of its container with the last.</summary>
    public void DeviceFdClosed()
    {
        DeviceFds--;
        if (DeviceFds == 0)
        {
            if (_closed && Container is not null)
            {
                Device.OpenGroup = null;
                Detach();
            }
            else if (_closed && Device.GroupOpenCount == 0)
            {
                Device.Model.Dma.Detach();                  // the devices' binding is gone with the last of them
            }
        }
    }

    private int GetStatus(ref vfio_group_status status)
    {
        if (status.argsz < IoctlMinSizes.VFIO_GROUP_GET_STATUS)
        {
            return Fail(Errno.EINVAL, $"argsz {status.argsz} is below {IoctlMinSizes.VFIO_GROUP_GET_STATUS}");
        }

        // group.c: vfio_group_ioctl_get_status. Without a container the group is viable only while no
        // one owns its DMA: a bound cdev, or a device fd still bound to the iommufd the group let go of.
        const uint Viable = (uint)Constants.VFIO_GROUP_FLAGS_VIABLE, Set = (uint)Constants.VFIO_GROUP_FLAGS_CONTAINER_SET;
        bool dmaOwned = Device.Owner is not null && !Device.NoIommu;
        status.flags = Container is not null || Iommufd is not null ? Set | Viable : dmaOwned ? 0 : Viable;
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
                // iommufd_ctx_from_file takes a reference on the iommufd's file first: closing its fd
                // leaves the context (and its compat IOAS) alive until the group lets go of it.
                if (!context.TryGet())
                {
                    return Fail(Errno.EBADF, $"fd {fd} was closed meanwhile");
                }

                if (context.CompatAddGroup(Device) is < 0 and int refused)
                {
                    kernel.DeferPut(context);
                    return refused;
                }

                Iommufd = context;
                return 0;
            default:
                return Fail(Errno.EBADFD, $"fd {fd} is neither a VFIO container nor an iommufd");
        }
    }

    /// <summary>group.c: vfio_group_ioctl_unset_container.</summary>
    private int UnsetContainer()
    {
        if (Container is null && Iommufd is null)
        {
            return Fail(Errno.EINVAL, "the group is in no container");
        }

        // A container counts the group's open device as a user (container_users); an iommufd is only
        // let go of: an open device stays bound to it through its file (df->iommufd) until it closes.
        if (Container is not null && DeviceFds > 0)
        {
            return Fail(Errno.EBUSY, $"{DeviceFds} device fd(s) of the group use the container");
        }

        if (Container is not null)
        {
            Detach();
        }

        DropIommufd();
        return 0;
    }

    /// <summary>group.c: vfio_group_ioctl_get_device_fd: the name is looked up first, then the group's IOMMU is checked (vfio_df_group_open).</summary>
    private int GetDeviceFd(ReadOnlySpan<byte> name)
    {
        // vfio_device_get_from_name: vfio-pci's match (vfio_pci_core_match) takes the address and a VF
        // token after it, and its token check answers before the group's IOMMU is looked at.
        int match = VfTokens.MatchName(Device, name);
        if (match <= 0)
        {
            return match < 0
                ? Fail((Errno)(-match), match == -(int)Errno.EACCES ? $"{Device.PciName} needs its PF's VF token (\"{Device.PciName} vf_token=<uuid>\")" : $"\"{System.Text.Encoding.UTF8.GetString(name)}\": a VF token where none is taken, or not one vf_token=<uuid>")
                : Fail(Errno.ENODEV, $"\"{System.Text.Encoding.UTF8.GetString(name)}\" is not in group {Device.Group} (it holds {Device.PciName})");
        }

        if (Container is null && Iommufd is null)
        {
            return Fail(Errno.EINVAL, "the group is in no container");
        }

        if (Container is { HasBackend: false })
        {
            return Fail(Errno.EINVAL, "the container has no IOMMU backend (VFIO_SET_IOMMU first)");
        }

        // vfio_df_open: only the device's first open binds and attaches. A later one, through this
        // group file or one opened after an earlier file let its iommufd go, finds it open (open_count)
        // and only counts itself, whatever the group is set to now.
        bool first = Device.GroupOpenCount == 0;

        // vfio_df_group_open: a no-IOMMU device's first open through an iommufd needs CAP_SYS_RAWIO and
        // no compat IOAS on it (the user must not have asked for translation).
        if (first && Iommufd is not null && Device.NoIommu && (!ProcessCapabilities.Has(ProcessCapabilities.CAP_SYS_RAWIO) || Iommufd.CompatIoas is not null))
        {
            return Fail(Errno.EPERM, Iommufd.CompatIoas is not null ? "a no-IOMMU device cannot be opened through an iommufd with a compat IOAS" : "a no-IOMMU device needs CAP_SYS_RAWIO");
        }

        if (first && Iommufd is not null && !Device.NoIommu)
        {
            // vfio_df_group_open: bound first, then vfio_iommufd_compat_attach_ioas, whose compat IOAS
            // lookup is ENODEV once it was destroyed (vfio_compat.c: get_compat_ioas).
            DeviceObject bound = Iommufd.Bind(Device, kernel.VtdUnit);
            uint ioas = Iommufd.CompatIoas?.Id ?? 0;
            int rc = Iommufd.CompatIoas is null ? Fail(Errno.ENODEV, "the iommufd's compat IOAS is gone") : Iommufd.Attach(bound, ref ioas);
            if (rc < 0)
            {
                Iommufd.Unbind(bound);
                return rc;
            }

            Device.GroupBinding = (bound, Iommufd);
        }

        var file = new VfioGroupDeviceFile(kernel, Device, this, first);
        int fd = kernel.AddFile(file);
        if (fd < 0)
        {
            file.Release();         // no fd for it: its release undoes the open (the counts; a first open's device and binding)
        }

        if (fd >= 0 && first && Iommufd is not null && Device.NoIommu)
        {
            Device.Model.Dma.AttachDirect(kernel.Memory);
        }

        return fd;
    }

    /// <summary>
    /// The group leaves its container (its backend detaches the device: DMA is blocked) or lets go of
    /// its iommufd, which detaches nothing (group.c: vfio_group_fops_release only puts the context): a
    /// device fd opened through the group, even through an earlier file of it, keeps its binding and its
    /// DMA until it closes. Only a no-IOMMU device's direct DMA ends here, once no device fd is open.
    /// </summary>
    private void Detach()
    {
        if (Container is not null)
        {
            Container.RemoveGroup(this);
            Device.Model.Dma.Detach();
            Container = null;
        }
        else if (Device.NoIommu && Device.GroupOpenCount == 0)
        {
            Device.Model.Dma.Detach();
        }

        DropIommufd();
    }

    /// <summary>Puts the reference SET_CONTAINER took on the iommufd's file (when the call or close returns: its release takes the context's locks).</summary>
    private void DropIommufd()
    {
        if (Iommufd is IommufdFile context)
        {
            Iommufd = null;
            kernel.DeferPut(context);
        }
    }
}
