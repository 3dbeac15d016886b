using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>
/// <c>/dev/vfio/devices/vfioN</c> (drivers/vfio/device_cdev.c): useless until VFIO_DEVICE_BIND_IOMMUFD, then a
/// device fd with ATTACH/DETACH_IOMMUFD_PT on top. Closing it unbinds the device.
/// </summary>
internal sealed unsafe class VfioCdevFile(EmulatedKernel kernel, EmulatedDevice device) : VfioDeviceFile(kernel, device)
{
    private IommufdFile? _context;
    private DeviceObject? _bound;

    /// <summary>The PASIDs this binding attached (vfio_device's pasids ida).</summary>
    private readonly HashSet<uint> _pasids = [];

    // vdev->iommufd_attached: set by a RID attach (attach_ioas) only. PASID 0 attached through the PASID
    // flag also holds the RID's domain, but a RID attach then is a fresh one (EBUSY), not a replace,
    // and a RID detach leaves it (iommufd.c: vfio_iommufd_physical_attach_ioas / _detach_ioas).
    private bool _ridAttached;

    public override string Name => Device.CdevPath;

    public override InodeAttributes Attributes => DevNodes.Cdev(Device.Index);

    public override bool Usable => _bound is not null;

    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        if (request == Constants.VFIO_DEVICE_BIND_IOMMUFD)
        {
            return Bind((ulong)argument);
        }

        if (_bound is not null && request is Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT or Constants.VFIO_DEVICE_DETACH_IOMMUFD_PT)
        {
            return request == Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT ? Attach((ulong)argument) : Detach((ulong)argument);
        }

        return base.Ioctl(thread, request, argument);
    }

    public override void Release()
    {
        lock (Device.Sync)
        {
            if (_bound is null)
            {
                return;
            }

            _context!.Unbind(_bound);
            _bound = null;
            _pasids.Clear();
            _ridAttached = false;
            _context = null;
            Device.Owner = null;
            CloseDevice();
        }
    }

    /// <summary>device_cdev.c: vfio_df_ioctl_bind_iommufd (get_user of argsz, copy_struct_from_user, checks, open, out_devid).</summary>
    private int Bind(ulong arg)
    {
        if (ReadBindArgument(arg, out vfio_device_bind_iommufd bind, out uint size) is int refused and < 0)
        {
            return refused;
        }

        // No argsz check for the flag: copy_struct_from_user zero-filled what argsz left out, so a short
        // argument's token_uuid_ptr is NULL (or its low half) and the token's read is what fails.
        bool token = (bind.flags & Constants.VFIO_DEVICE_BIND_FLAG_TOKEN) != 0;

        lock (Device.Sync)
        {
            if (Device.GroupOpen)
            {
                return Fail(Errno.EBUSY, $"the device's group {Device.GroupPath} is open");
            }

            if (_bound is not null)
            {
                return Fail(Errno.EINVAL, "this fd is already bound");
            }

            // vfio_df_check_token: vfio-pci checks a token (or its absence) for every bind.
            UInt128? uuid = null;
            if (token)
            {
                Span<byte> bytes = stackalloc byte[16];
                if (!UserAccess.TryRead(bind.token_uuid_ptr, bytes))
                {
                    return Fail(Errno.EFAULT, "token_uuid_ptr cannot be read");
                }

                uuid = VfTokens.FromBytes(bytes);
            }

            int matched = VfTokens.Match(Device, uuid);
            if (matched < 0)
            {
                return Fail((Errno)(-matched), matched == -(int)Errno.EACCES
                    ? $"{Device.PciName} needs the VF token of its PF's user (VFIO_DEVICE_BIND_FLAG_TOKEN), or the one given differs"
                    : $"{Device.PciName} takes no VF token (not an SR-IOV PF, or a VF whose PF vfio-pci does not have)");
            }

            switch (Kernel.FileOf(bind.iommufd))
            {
                case IommufdFile context:
                    if (Device.Owner is not null)
                    {
                        return Fail(Errno.EINVAL, $"{Device.CdevPath} is already open through another fd");
                    }

                    _context = context;
                    _bound = context.Bind(Device, Kernel.VtdUnit);
                    Device.Owner = this;
                    OpenDevice();
                    if (!UserAccess.TryWrite(arg + 12, _bound.Id))
                    {
                        // out_close_device: the open is undone.
                        context.Unbind(_bound);
                        _bound = null;
                        _context = null;
                        Device.Owner = null;
                        CloseDevice();
                        return Fail(Errno.EFAULT, "out_devid cannot be written");
                    }

                    return 0;
                case not null:
                    return Fail(Errno.EBADFD, $"fd {bind.iommufd} is not an iommufd");
                default:
                    return Kernel.IsOpenFile(bind.iommufd)
                        ? Fail(Errno.EBADFD, $"fd {bind.iommufd} is not an iommufd")
                        : Fail(Errno.EBADF, $"fd {bind.iommufd} is not open");
            }
        }
    }

    /// <summary>device_cdev.c: vfio_df_ioctl_attach_pt; pt_id goes back, and a failed copy detaches again.</summary>
    private int Attach(ulong arg)
    {
        var attach = default(vfio_device_attach_iommufd_pt);
        if (!UserAccess.TryRead(arg, new Span<byte>(&attach, 12)))
        {
            return Fail(Errno.EFAULT, "the vfio_device_attach_iommufd_pt cannot be read");
        }

        if (attach.argsz < IoctlMinSizes.VFIO_DEVICE_ATTACH_IOMMUFD_PT)
        {
            return Fail(Errno.EINVAL, $"argsz {attach.argsz} is below {IoctlMinSizes.VFIO_DEVICE_ATTACH_IOMMUFD_PT}");
        }

        if ((attach.flags & ~(uint)Constants.VFIO_DEVICE_ATTACH_PASID) != 0)
        {
            return Fail(Errno.EINVAL, $"unknown flags 0x{attach.flags:X}");
        }

        bool withPasid = (attach.flags & Constants.VFIO_DEVICE_ATTACH_PASID) != 0;
        if (withPasid && ReadPasid(arg, attach.argsz, (uint)sizeof(vfio_device_attach_iommufd_pt), out attach.pasid) is int refused)
        {
            return refused;
        }

        uint ptId = attach.pt_id;
        lock (Device.Sync)
        {
            // iommufd.c: vfio_iommufd_physical_pasid_attach_ioas replaces a PASID it attached before
            // (its ida), otherwise reserves the number (ida_alloc_range: ENOSPC past INT_MAX) and attaches.
            bool known = withPasid && _pasids.Contains(attach.pasid);
            if (withPasid && !known && attach.pasid > int.MaxValue)
            {
                return Fail(Errno.ENOSPC, $"PASID {attach.pasid} is past the ida's range");
            }

            // PASID 0 through the flag is a fresh attach of the RID: an attached RID answers EBUSY once
            // pt_id is looked up (IommufdFile.Attach).
            int rc = withPasid ? _context!.AttachPasid(_bound!, attach.pasid, ref ptId, replace: known) : _context!.Attach(_bound!, ref ptId, fresh: !_ridAttached);
            if (rc == 0 && withPasid)
            {
                _pasids.Add(attach.pasid);
            }
            else if (rc == 0)
            {
                _ridAttached = true;
            }

            // On a failed copy of pt_id the kernel's out_detach detaches the RID (detach_ioas), whatever was
            // attached: a RID attached before a PASID attach goes, the PASID stays.
            if (rc == 0 && !UserAccess.TryWrite(arg + 8, ptId))
            {
                DetachRid();
                return Fail(Errno.EFAULT, "pt_id cannot be written back");
            }

            return rc;
        }
    }

    /// <summary>iommufd.c: vfio_iommufd_physical_detach_ioas, which does nothing unless a RID attach attached.</summary>
    private void DetachRid()
    {
        if (_ridAttached)
        {
            _context!.Detach(_bound!);
            _ridAttached = false;
        }
    }

    private int Detach(ulong arg)
    {
        var detach = default(vfio_device_detach_iommufd_pt);
        if (!UserAccess.TryRead(arg, new Span<byte>(&detach, 8)))
        {
            return Fail(Errno.EFAULT, "the vfio_device_detach_iommufd_pt cannot be read");
        }

        if (detach.argsz < IoctlMinSizes.VFIO_DEVICE_DETACH_IOMMUFD_PT)
        {
            return Fail(Errno.EINVAL, $"argsz {detach.argsz} is below {IoctlMinSizes.VFIO_DEVICE_DETACH_IOMMUFD_PT}");
        }

        if ((detach.flags & ~(uint)Constants.VFIO_DEVICE_DETACH_PASID) != 0)
        {
            return Fail(Errno.EINVAL, $"unknown flags 0x{detach.flags:X}");
        }

        bool withPasid = (detach.flags & Constants.VFIO_DEVICE_DETACH_PASID) != 0;
        if (withPasid && ReadPasid(arg, detach.argsz, (uint)sizeof(vfio_device_detach_iommufd_pt), out detach.pasid) is int refused)
        {
            return refused;
        }

        lock (Device.Sync)
        {
            // vfio_iommufd_physical_pasid_detach_ioas: a PASID it never attached is no error.
            if (!withPasid)
            {
                DetachRid();
            }
            else if (_pasids.Remove(detach.pasid))
            {
                _context!.DetachPasid(_bound!, detach.pasid);
            }

            return 0;
        }
    }

    /// <summary>
    /// device_cdev.c: with the PASID flag (vfio-pci has pasid_attach_ioas and pasid_detach_ioas), argsz
    /// must reach past <c>pasid</c> (EINVAL), which is then copied in (EFAULT).
    /// </summary>
    private static int? ReadPasid(ulong arg, uint argsz, uint end, out uint pasid)
    {
        pasid = 0;
        if (argsz < end)
        {
            return Fail(Errno.EINVAL, $"the PASID flag needs argsz {end} (offsetofend pasid)");
        }

        return UserAccess.TryRead(arg + end - sizeof(uint), out pasid) ? null : Fail(Errno.EFAULT, "pasid cannot be read");
    }
}
