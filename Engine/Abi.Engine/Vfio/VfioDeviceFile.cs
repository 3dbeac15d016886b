using Abi.Engine.Pci;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>
/// A VFIO device fd of an emulated PCI function, as vfio-pci serves it: GET_INFO, regions, IRQs,
/// reset and features, and pread/pwrite at the region offsets (index &lt;&lt; 40). The cdev flavour
/// (<see cref="VfioCdevFile"/>) adds bind and attach; a device fd from a group (legacy) is usable
/// at once. Arguments start with <c>argsz</c>; the struct pointer itself is trusted except NULL,
/// nested user pointers are copied with <see cref="UserAccess"/>.
/// </summary>
internal abstract unsafe partial class VfioDeviceFile : EngineFile
{
    protected VfioDeviceFile(EmulatedKernel kernel, EmulatedDevice device)
    {
        Kernel = kernel;
        Device = device;
    }

    public EmulatedKernel Kernel { get; }

    public EmulatedDevice Device { get; }

    public PciDevice Model => Device.Model;

    /// <summary>Whether the fd gives access to the device (a cdev only once bound).</summary>
    public abstract bool Usable { get; }

    /// <summary>
    /// device_cdev.c: vfio_df_ioctl_bind_iommufd's reading and checking of its argument (get_user of
    /// argsz, the minimum, copy_struct_from_user, a negative iommufd or unknown flags), which comes
    /// before it asks what kind of device fd it was called on.
    /// </summary>
    protected static int ReadBindArgument(ulong arg, out vfio_device_bind_iommufd bind, out uint size)
    {
        const uint MinSize = IoctlMinSizes.VFIO_DEVICE_BIND_IOMMUFD;
        bind = default;
        if (!UserAccess.TryRead(arg, out size))
        {
            return Fail(Errno.EFAULT, "argsz cannot be read");
        }

        if (size < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {size} is below {MinSize}");
        }

        uint known = (uint)sizeof(vfio_device_bind_iommufd);
        vfio_device_bind_iommufd local = default;
        int copied = UserAccess.CopyStructFromUser(new Span<byte>(&local, (int)known), arg, size);
        if (copied != 0)
        {
            return copied == -(int)Errno.E2BIG
                ? Fail(Errno.E2BIG, $"non-zero bytes past the {known} bytes VFIO_DEVICE_BIND_IOMMUFD understands")
                : Fail(Errno.EFAULT, $"the {size}-byte argument cannot be read");
        }

        bind = local;
        if (bind.iommufd < 0 || (bind.flags & ~(uint)Constants.VFIO_DEVICE_BIND_FLAG_TOKEN) != 0)
        {
            return Fail(Errno.EINVAL, bind.iommufd < 0 ? $"iommufd {bind.iommufd} is negative" : $"unknown flags 0x{bind.flags:X}");
        }

        return 0;
    }

    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        if (!Usable)
        {
            return Fail(Errno.EINVAL, $"{Name} is not bound to an iommufd yet (VFIO_DEVICE_BIND_IOMMUFD first)");
        }

        // vfio_pci_core.c: each ioctl copies its fixed head in (copy_from_user of minsz), works on that
        // copy and copies the head back at the end; capabilities and data arrays go through user memory.
        (int head, bool back) = request switch
        {
            Constants.VFIO_DEVICE_GET_INFO => (16, true),
            Constants.VFIO_DEVICE_GET_REGION_INFO => (32, true),
            Constants.VFIO_DEVICE_GET_IRQ_INFO => (16, true),
            Constants.VFIO_DEVICE_SET_IRQS => (20, false),
            Constants.VFIO_DEVICE_FEATURE => (8, false),
            Constants.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO or Constants.VFIO_DEVICE_PCI_HOT_RESET => (12, false),
            Constants.VFIO_DEVICE_IOEVENTFD => (28, false),
            _ => (0, false),
        };
        if (head == 0)
        {
            return request == Constants.VFIO_DEVICE_RESET ? Reset() : Fail(Errno.ENOTTY, $"0x{request:X} is not an ioctl of a vfio-pci device fd");
        }

        ulong user = (ulong)argument;
        byte* copy = stackalloc byte[64];
        new Span<byte>(copy, 64).Clear();
        if (!UserAccess.TryRead(user, new Span<byte>(copy, head)))
        {
            return Fail(Errno.EFAULT, $"the argument's first {head} bytes cannot be read");
        }

        int rc = request switch
        {
            Constants.VFIO_DEVICE_GET_INFO => GetInfo(copy),
            Constants.VFIO_DEVICE_GET_REGION_INFO => GetRegionInfo(copy, user),
            Constants.VFIO_DEVICE_GET_IRQ_INFO => GetIrqInfo(copy),
            Constants.VFIO_DEVICE_SET_IRQS => SetIrqs(copy, user),
            Constants.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO or Constants.VFIO_DEVICE_PCI_HOT_RESET => HotReset(request, copy),
            Constants.VFIO_DEVICE_IOEVENTFD => IoEventfd(copy),
            _ => Feature(copy, user),
        };
        // vfio_pci_ioctl_get_info answers min(argsz, sizeof(info)) bytes (cap_offset and the pad, zero
        // without capabilities), the other heads exactly what they read.
        int answer = request == Constants.VFIO_DEVICE_GET_INFO ? (int)Math.Min(((vfio_device_info*)copy)->argsz, (uint)sizeof(vfio_device_info)) : head;
        return rc != 0 || !back || UserAccess.TryWrite(user, new ReadOnlySpan<byte>(copy, answer)) ? rc : Fail(Errno.EFAULT, "the result cannot be written back");
    }

    /// <summary>
    /// The device was opened: vfio-pci enables it (memory decoding on, bus mastering off) and counts
    /// an open VF as a user of its PF's VF token (vfio_pci_core_finish_enable).
    /// </summary>
    protected void OpenDevice()
    {
        Model.Config.Reset(PciConfigSpace.CommandMemory);
        Device.Config = new VfioPciConfig(Model, virtualFunction: Device.PhysicalFunction is not null, Device.DmaBufs);
        if (Device.PhysicalFunction is { SriovByVfio: true } pf)
        {
            lock (pf.Sync)
            {
                pf.VfTokenUsers++;
            }
        }
    }

    /// <summary>The last fd went: interrupts off, the function reset (vfio-pci resets on release when it can).</summary>
    protected void CloseDevice()
    {
        if (Device.PhysicalFunction is { SriovByVfio: true } pf)
        {
            lock (pf.Sync)
            {
                pf.VfTokenUsers--;                                 // vfio_pci_core_close_device
            }
        }

        Device.DmaBufs.Cleanup();                                 // vfio_pci_dma_buf_cleanup: revoked for good
        ExitLowPower();                                           // vfio_pci_core_disable leaves low power
        Device.IoEventfds.Clear();                                // and removes the ioeventfds
        Model.Interrupts.Release();
        if (Model.CanReset)
        {
            Model.ResetFunction();
        }

        Model.Config.Reset(0);
        Device.Config = null;
    }

    private int GetInfo(byte* arg)
    {
        ref vfio_device_info info = ref *(vfio_device_info*)arg;
        const uint MinSize = IoctlMinSizes.VFIO_DEVICE_GET_INFO;
        uint argsz = info.argsz;
        if (argsz < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} is below {MinSize}");
        }

        var result = new vfio_device_info
        {
            argsz = argsz,
            flags = (uint)(Constants.VFIO_DEVICE_FLAGS_PCI | (Model.CanReset ? Constants.VFIO_DEVICE_FLAGS_RESET : 0)),
            num_regions = Constants.VFIO_PCI_NUM_REGIONS,
            num_irqs = Constants.VFIO_PCI_NUM_IRQS,
        };
        info = result;
        return 0;
    }

    /// <summary>
    /// vfio_pci_core.c: vfio_pci_ioctl_get_pci_hot_reset_info and vfio_pci_ioctl_pci_hot_reset check their
    /// header (argsz, flags, and a group list only from a group's fd), then ask for a slot or bus reset:
    /// the engine's functions sit on the root bus, which has neither (pci_probe_reset_bus: no bridge), so ENODEV.
    /// </summary>
    private int HotReset(uint request, byte* arg)
    {
        uint argsz = *(uint*)arg, flags = *(uint*)(arg + 4), count = *(uint*)(arg + 8);
        if (argsz < 12 || (request == Constants.VFIO_DEVICE_PCI_HOT_RESET && flags != 0))
        {
            return Fail(Errno.EINVAL, argsz < 12 ? $"argsz {argsz} is below 12" : $"flags 0x{flags:X} are not zero");
        }

        if (request == Constants.VFIO_DEVICE_PCI_HOT_RESET && (count != 0) == this is VfioCdevFile)
        {
            return Fail(Errno.EINVAL, "a group list goes with a group's device fd, an empty one with a cdev");
        }

        return Fail(Errno.ENODEV, $"{Device.PciName} is on the root bus: no slot or bus reset");
    }

    /// <summary>vfio_pci_ioctl_ioeventfd: argsz, flags, one width bit and an fd of -1 or more; then the device's registry.</summary>
    private int IoEventfd(byte* arg)
    {
        ref vfio_device_ioeventfd request = ref *(vfio_device_ioeventfd*)arg;
        const uint MinSize = 28;                                       // offsetofend(struct vfio_device_ioeventfd, fd)
        const uint Widths = (uint)Constants.VFIO_DEVICE_IOEVENTFD_SIZE_MASK;
        if (request.argsz < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {request.argsz} is below {MinSize}");
        }

        if ((request.flags & ~Widths) != 0)
        {
            return Fail(Errno.EINVAL, $"unknown flags 0x{request.flags & ~Widths:X}");
        }

        uint width = request.flags & Widths;
        if (System.Numerics.BitOperations.PopCount(width) != 1 || request.fd < -1)
        {
            return Fail(Errno.EINVAL, request.fd < -1 ? $"fd {request.fd} is below -1" : $"width flags 0x{width:X} are not one width");
        }

        return Device.IoEventfds.Set(request.offset, request.data, (int)width, request.fd);
    }

    private int Reset()
    {
        if (!Model.CanReset)
        {
            return Fail(Errno.EINVAL, $"{Model.Name} has no function reset");
        }

        // pci_reset_function saves and restores config space around the reset: only the model's state goes.
        // The dma-bufs are revoked around it (vfio_pci_ioctl_reset).
        lock (Device.DmaBufs.MemoryLock)
        {
            Device.DmaBufs.Move(revoked: true);
            Model.ResetFunction();
            Device.DmaBufs.RestoreIf(() => Device.MemoryEnabled);
        }

        return 0;
    }

    private int Feature(byte* arg, ulong user)
    {
        ref vfio_device_feature feature = ref *(vfio_device_feature*)arg;
        const uint Get = (uint)Constants.VFIO_DEVICE_FEATURE_GET, Set = (uint)Constants.VFIO_DEVICE_FEATURE_SET, Probe = (uint)Constants.VFIO_DEVICE_FEATURE_PROBE;
        const uint Mask = (uint)Constants.VFIO_DEVICE_FEATURE_MASK;
        if (feature.argsz < IoctlMinSizes.VFIO_DEVICE_FEATURE)
        {
            return Fail(Errno.EINVAL, $"argsz {feature.argsz} is below {IoctlMinSizes.VFIO_DEVICE_FEATURE}");
        }

        if ((feature.flags & ~(Mask | Get | Set | Probe)) != 0)
        {
            return Fail(Errno.EINVAL, $"unknown flag bits 0x{feature.flags & ~(Mask | Get | Set | Probe):X}");
        }

        if ((feature.flags & Probe) == 0 && (feature.flags & (Get | Set)) == (Get | Set))
        {
            return Fail(Errno.EINVAL, "GET and SET together need PROBE");
        }

        ulong data = user + (ulong)sizeof(vfio_device_feature);
        uint dataSize = feature.argsz - (uint)sizeof(vfio_device_feature);
        return (feature.flags & Mask) switch
        {
            Constants.VFIO_DEVICE_FEATURE_PCI_VF_TOKEN => SetVfToken(feature.flags, data, dataSize),
            Constants.VFIO_DEVICE_FEATURE_DMA_BUF => GetDmaBuf(feature.flags, data, dataSize),
            Constants.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY or Constants.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP or Constants.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT
                => LowPower(feature.flags, data, dataSize),

            // vfio_main.c: vfio_ioctl_device_feature_migration_precopy_info_v2 asks for PRE_COPY first.
            Constants.VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 => Fail(Errno.EINVAL, "the device does not migrate with pre-copy"),
            _ => Fail(Errno.ENOTTY, $"feature {feature.flags & Mask} is not implemented by the engine's vfio-pci"),
        };
    }

    /// <summary>
    /// vfio_check_feature, which every feature of vfio-pci asks first: a GET or SET the feature does not
    /// support is EINVAL, PROBE answers 0, neither GET nor SET is EINVAL, and so is less data than
    /// <paramref name="minimum"/>; null when the feature goes on.
    /// </summary>
    private static int? CheckFeature(uint flags, uint dataSize, uint supported, uint minimum)
    {
        const uint Get = (uint)Constants.VFIO_DEVICE_FEATURE_GET, Set = (uint)Constants.VFIO_DEVICE_FEATURE_SET;
        if ((flags & (Get | Set) & ~supported) != 0)
        {
            return Fail(Errno.EINVAL, $"feature {flags & (uint)Constants.VFIO_DEVICE_FEATURE_MASK} takes {(supported == Get ? "GET" : "SET")} only");
        }

        if ((flags & (uint)Constants.VFIO_DEVICE_FEATURE_PROBE) != 0)
        {
            return 0;
        }

        if ((flags & (Get | Set)) == 0)
        {
            return Fail(Errno.EINVAL, "neither GET nor SET");
        }

        return dataSize < minimum ? Fail(Errno.EINVAL, $"{dataSize} bytes of data, {minimum} needed") : null;
    }

    /// <summary>
    /// vfio_pci_core.c: vfio_pci_core_pm_entry, _pm_entry_with_wakeup and _pm_exit, each after
    /// vfio_check_feature (SET only; PROBE answers 0). Entry marks the device engaged (EINVAL if it is);
    /// exit lets go. The engine's functions have no power states of their own to leave, so only the
    /// flag and the wakeup eventfd's reference are kept (the kernel also zaps BAR mappings on entry).
    /// </summary>
    private int LowPower(uint flags, ulong data, uint dataSize)
    {
        uint which = flags & (uint)Constants.VFIO_DEVICE_FEATURE_MASK;
        bool wakeup = which == Constants.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP;
        uint minimum = wakeup ? (uint)sizeof(vfio_device_low_power_entry_with_wakeup) : 0;
        if (CheckFeature(flags, dataSize, (uint)Constants.VFIO_DEVICE_FEATURE_SET, minimum) is int checkedOut)
        {
            return checkedOut;
        }

        lock (Device.Sync)
        {
            if (which == Constants.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT)
            {
                lock (Device.DmaBufs.MemoryLock)
                {
                    ExitLowPower();
                    Device.DmaBufs.RestoreIf(() => Device.MemoryEnabled);    // vfio_pci_runtime_pm_exit
                }

                return 0;
            }

            int reference = -1;
            if (wakeup)
            {
                if (!UserAccess.TryRead(data, out vfio_device_low_power_entry_with_wakeup entry))
                {
                    return Fail(Errno.EFAULT, "the wakeup entry cannot be read");
                }

                if (entry.wakeup_eventfd < 0)
                {
                    return Fail(Errno.EINVAL, $"wakeup_eventfd {entry.wakeup_eventfd} is negative");
                }

                if (InterruptController.AcquireEventfd(entry.wakeup_eventfd, out reference) is int refused)
                {
                    return refused;
                }
            }

            Device.DmaBufs.Move(revoked: true);                  // vfio_pci_runtime_pm_entry, before it looks
            if (Device.LowPowerEngaged)
            {
                if (reference >= 0)
                {
                    _ = LinuxKernel.Instance.Close(reference);
                }

                return Fail(Errno.EINVAL, "low power is engaged already");
            }

            Device.LowPowerEngaged = true;
            Device.LowPowerWakeup = reference;
            return 0;
        }
    }

    /// <summary>__vfio_pci_runtime_pm_exit: not engaged any more, the wakeup eventfd let go of.</summary>
    private void ExitLowPower()
    {
        if (Device.LowPowerWakeup >= 0)
        {
            _ = LinuxKernel.Instance.Close(Device.LowPowerWakeup);
        }

        Device.LowPowerEngaged = false;
        Device.LowPowerWakeup = -1;
    }

    // vfio_pci_core_feature_token: SET only (a GET would show the previous user's token), on a PF.
    private int SetVfToken(uint flags, ulong data, uint argsz)
    {
        if (Device.VfToken is null)
        {
            return Fail(Errno.ENOTTY, $"{Device.PciName} is not an SR-IOV PF: it has no VF token");
        }

        if (CheckFeature(flags, argsz, (uint)Constants.VFIO_DEVICE_FEATURE_SET, 16) is int checkedOut)
        {
            return checkedOut;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!UserAccess.TryRead(data, bytes))
        {
            return Fail(Errno.EFAULT, "the token cannot be read");
        }

        lock (Device.Sync)
        {
            Device.VfToken = VfTokens.FromBytes(bytes);
        }

        return 0;
    }
}
