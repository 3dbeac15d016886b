using System.Globalization;
using Abi.Engine.Vfio;
using Abi.Interop;

namespace Abi.Engine.Sysfs;

/// <summary>
/// The part of sysfs that describes the engine's PCI functions, laid out as a kernel lays it out
/// (drivers/pci/pci-sysfs.c, drivers/iommu/iommu.c's iommu_groups, drivers/vfio/device_cdev.c's
/// vfio-dev): <c>/sys/bus/pci/devices/&lt;address&gt;</c> links to <c>/sys/devices/pci0000:00/&lt;address&gt;</c>,
/// which holds <c>vendor</c>, <c>device</c>, <c>class</c>, <c>revision</c>, <c>subsystem_vendor</c>,
/// <c>subsystem_device</c>, <c>driver_override</c>, the <c>driver</c> and <c>iommu_group</c> links and
/// <c>vfio-dev/vfioN/dev</c>; <c>/sys/kernel/iommu_groups/N/devices</c> links back; vfio-pci's driver
/// directory lists what it has bound; <c>/sys/module/vfio/parameters/enable_unsafe_noiommu_mode</c> says
/// whether no-IOMMU mode is on, <c>/sys/module/vfio_pci/parameters/enable_sriov</c> whether vfio-pci may
/// enable VFs. An SR-IOV PF has drivers/pci/iov.c's <c>sriov_*</c> files and <c>virtfnN</c> links, its
/// VFs a <c>physfn</c> link. The engine serves these subtrees whole (a program sees the engine's
/// machine there, not this one's); the rest of <c>/sys</c> is the real kernel's.
/// </summary>
internal static class SysfsView
{
    /// <summary>Where the engine's view lives; anything under these is the engine's.</summary>
    private static readonly string[] s_owned = ["/sys/bus/pci", "/sys/devices/pci0000:00", "/sys/kernel/iommu_groups", "/sys/module/vfio", "/sys/module/vfio_pci"];

    /// <summary>The major number the engine gives VFIO cdevs (dynamic in the kernel; any free number).</summary>

    /// <summary>Whether <paramref name="path"/> (absolute) is in the engine's view.</summary>
    public static bool Owns(string path)
    {
        foreach (string prefix in s_owned)
        {
            if (path == prefix || (path.StartsWith(prefix, StringComparison.Ordinal) && path[prefix.Length] == '/'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The tree as it is now, rooted at <c>/</c>.</summary>
    public static SysfsDirectory Build(IReadOnlyList<EmulatedDevice> devices, bool noIommuEnabled, EmulatedKernel kernel)
    {
        var root = new SysfsDirectory();
        SysfsDirectory sys = root.Directory("sys");
        SysfsDirectory pciBus = sys.Directory("bus").Directory("pci");
        SysfsDirectory busDevices = pciBus.Directory("devices");
        SysfsDirectory vfioPci = pciBus.Directory("drivers").Directory("vfio-pci");
        SysfsDirectory hostBridge = sys.Directory("devices").Directory("pci0000:00");
        SysfsDirectory groups = sys.Directory("kernel").Directory("iommu_groups");
        sys.Directory("module").Directory("vfio").Directory("parameters")
            .Add("enable_unsafe_noiommu_mode", new SysfsAttribute(() => noIommuEnabled ? "Y\n" : "N\n"));
        sys.Directory("module").Directory("vfio_pci").Directory("parameters")
            .Add("enable_sriov", new SysfsAttribute(() => kernel.VfioPciEnableSriov ? "Y\n" : "N\n", (text, _) => SetBool(text, value => kernel.VfioPciEnableSriov = value)));

        // Binding (drivers/base/bus.c: bind_store, unbind_store, drivers_probe_store; drivers/pci/pci-sysfs.c: driver_override).
        pciBus.Add("drivers_probe", new SysfsAttribute(null, (text, _) => Probe(devices, text)));
        vfioPci.Add("bind", new SysfsAttribute(null, (text, _) => Bind(devices, text)));
        vfioPci.Add("unbind", new SysfsAttribute(null, (text, _) => Unbind(devices, text)));

        foreach (EmulatedDevice device in devices)
        {
            string name = device.PciName;
            string group = device.Group.ToString(CultureInfo.InvariantCulture);
            busDevices.Add(name, new SysfsLink($"../../../devices/pci0000:00/{name}"));
            if (device.BoundToVfio)
            {
                vfioPci.Add(name, new SysfsLink($"../../../../devices/pci0000:00/{name}"));
            }

            SysfsDirectory function = hostBridge.Directory(name);
            Pci.PciConfigSpace config = device.Model.Config;
            function.Add("vendor", Hex(() => config.VendorId, 4));
            function.Add("device", Hex(() => config.DeviceId, 4));
            function.Add("subsystem_vendor", Hex(() => config.Read16(Abi.Linux.Pci.Constants.PCI_SUBSYSTEM_VENDOR_ID), 4));
            function.Add("subsystem_device", Hex(() => config.Read16(Abi.Linux.Pci.Constants.PCI_SUBSYSTEM_ID), 4));
            function.Add("class", Hex(() => config.Read(Abi.Linux.Pci.Constants.PCI_CLASS_REVISION, 4) >> 8, 6));
            function.Add("revision", Hex(() => config.Read(Abi.Linux.Pci.Constants.PCI_REVISION_ID, 1), 2));
            function.Add("driver_override", new SysfsAttribute(() => (device.DriverOverride ?? "(null)") + "\n", (text, count) => SetOverride(device, text, count)));
            if (device.BoundToVfio)
            {
                function.Add("driver", new SysfsLink("../../../bus/pci/drivers/vfio-pci"));
            }

            function.Add("iommu_group", new SysfsLink($"../../../kernel/iommu_groups/{group}"));
            if (!device.NoIommu && device.BoundToVfio)
            {
                function.Directory("vfio-dev").Directory($"vfio{device.Index}")
                    .Add("dev", new SysfsAttribute(() => $"{DevNodes.VfioCdevMajor}:{device.Index}\n"));
            }

            if (device.Model.Sriov is Pci.SriovCapability sriov)
            {
                // drivers/pci/iov.c: the PF's SR-IOV attributes and one link per enabled VF.
                function.Add("sriov_totalvfs", Decimal(() => sriov.TotalVfs));
                function.Add("sriov_numvfs", new SysfsAttribute(() => Invariant($"{device.VirtualFunctions.Count}\n"), (text, _) => kernel.StoreNumVfs(device, text)));
                function.Add("sriov_offset", Decimal(() => sriov.FirstVfOffset));
                function.Add("sriov_stride", Decimal(() => sriov.VfStride));
                function.Add("sriov_vf_device", new SysfsAttribute(() => Invariant($"{sriov.VfDeviceId:x}\n")));
                for (int i = 0; i < device.VirtualFunctions.Count; i++)
                {
                    function.Add(Invariant($"virtfn{i}"), new SysfsLink($"../{device.VirtualFunctions[i].PciName}"));
                }
            }

            if (device.PhysicalFunction is EmulatedDevice pf)
            {
                function.Add("physfn", new SysfsLink($"../{pf.PciName}"));
            }

            SysfsDirectory groupDirectory = groups.Directory(group);
            groupDirectory.Directory("devices").Add(name, new SysfsLink($"../../../../devices/pci0000:00/{name}"));
            groupDirectory.Add("type", new SysfsAttribute(() => device.NoIommu ? "identity\n" : "DMA\n"));
            if (device.NoIommu)
            {
                groupDirectory.Add("name", new SysfsAttribute(() => "vfio-noiommu\n"));
            }
        }

        Number(root, 1);
        return root;
    }

    /// <summary>
    /// Resolves <paramref name="path"/> from the root as the kernel's path walk does: <c>.</c> and
    /// <c>..</c>, every link on the way followed, the last one only when <paramref name="followLast"/>.
    /// Returns 0, <c>-ENOENT</c>, <c>-ENOTDIR</c> (a file used as a directory) or <c>-ELOOP</c>.
    /// </summary>
    public static int Resolve(SysfsDirectory root, string path, bool followLast, out SysfsNode? node)
    {
        node = null;
        var pending = new Stack<string>(Enumerable.Reverse(Components(path)));
        var stack = new List<SysfsDirectory> { root };
        int links = 0;
        SysfsNode current = root;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (current is not SysfsDirectory directory)
            {
                return -(int)Errno.ENOTDIR;
            }

            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (stack.Count > 1)
                {
                    stack.RemoveAt(stack.Count - 1);
                }

                current = stack[^1];
                continue;
            }

            SysfsNode? next = directory[part];
            if (next is null)
            {
                return -(int)Errno.ENOENT;
            }

            if (next is SysfsLink link && (pending.Count > 0 || followLast))
            {
                if (++links > 40)
                {
                    return -(int)Errno.ELOOP;                // MAXSYMLINKS
                }

                // The target is read relative to the link's directory (or from the root when absolute).
                if (link.Target.StartsWith('/'))
                {
                    stack.RemoveRange(1, stack.Count - 1);
                    current = root;
                }

                foreach (string component in Enumerable.Reverse(Components(link.Target)))
                {
                    pending.Push(component);
                }

                continue;
            }

            current = next;
            if (next is SysfsDirectory child)
            {
                stack.Add(child);
            }
        }

        node = current;
        return 0;
    }

    // driver_set_override (drivers/base/driver.c): one trailing newline dropped; empty clears.
    // drivers/base/dd.c: __device_set_driver_override: a count of PAGE_SIZE - 1 or more is EINVAL (the
    // show must fit its newline), then the string ends at its first NUL and its first newline, and an
    // empty one clears the override.
    private static int SetOverride(EmulatedDevice device, string text, int count)
    {
        if (count >= Runtime.Kernel.LinuxConstants.PageSize - 1)
        {
            return -(int)Errno.EINVAL;
        }

        int newline = text.IndexOf('\n', StringComparison.Ordinal);
        string value = newline < 0 ? text : text[..newline];
        lock (device.Sync)
        {
            device.DriverOverride = value.Length == 0 ? null : value;
        }

        return 0;
    }

    // bind_store: vfio-pci has no static ids, so it matches a function only through driver_override;
    // no match is ENODEV, a function with a driver EBUSY (device_driver_attach).
    private static int Bind(IReadOnlyList<EmulatedDevice> devices, string text)
    {
        if (Named(devices, text) is not EmulatedDevice device)
        {
            return -(int)Errno.ENODEV;
        }

        lock (device.Sync)
        {
            if (device.DriverOverride != "vfio-pci")
            {
                return -(int)Errno.ENODEV;
            }

            if (device.BoundToVfio)
            {
                return -(int)Errno.EBUSY;
            }

            device.TakenByVfioPci();
            return 0;
        }
    }

    // unbind_store: only a function this driver has (ENODEV otherwise). The kernel's vfio-pci remove
    // then waits until every fd on the device is closed; the engine refuses with EBUSY instead, as a
    // wait inside a write would hang a single-threaded caller.
    private static int Unbind(IReadOnlyList<EmulatedDevice> devices, string text)
    {
        if (Named(devices, text) is not EmulatedDevice device)
        {
            return -(int)Errno.ENODEV;
        }

        lock (device.Sync)
        {
            if (!device.BoundToVfio)
            {
                return -(int)Errno.ENODEV;
            }

            if (device.InUse)
            {
                return -(int)Errno.EBUSY;
            }

            device.BoundToVfio = false;
            return 0;
        }
    }

    // drivers_probe_store: ENODEV for an unknown name; otherwise a probe, which binds vfio-pci when
    // driver_override names it. The engine has no other drivers: without an override nothing binds.
    private static int Probe(IReadOnlyList<EmulatedDevice> devices, string text)
    {
        if (Named(devices, text) is not EmulatedDevice device)
        {
            return -(int)Errno.ENODEV;
        }

        lock (device.Sync)
        {
            if (!device.BoundToVfio && device.DriverOverride == "vfio-pci")
            {
                device.TakenByVfioPci();
            }
        }

        return 0;
    }

    // sysfs_streq: a trailing newline on either side does not count.
    private static EmulatedDevice? Named(IReadOnlyList<EmulatedDevice> devices, string text)
    {
        string name = text.EndsWith('\n') ? text[..^1] : text;
        foreach (EmulatedDevice device in devices)
        {
            if (device.PciName == name)
            {
                return device;
            }
        }

        return null;
    }

    // param_set_bool (kstrtobool): y/Y/1/t/T or n/N/0/f/F, on/off; anything else is EINVAL.
    private static int SetBool(string text, Action<bool> set)
    {
        string value = text.TrimEnd('\n');
        bool? parsed = value.Length == 0 ? null : value[0] switch
        {
            'y' or 'Y' or '1' or 't' or 'T' => true,
            'n' or 'N' or '0' or 'f' or 'F' => false,
            'o' or 'O' when value.Length > 1 => value[1] is 'n' or 'N' ? true : value[1] is 'f' or 'F' ? false : null,
            _ => null,
        };
        if (parsed is not bool on)
        {
            return -(int)Errno.EINVAL;
        }

        set(on);
        return 0;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static SysfsAttribute Decimal(Func<int> value) => new(() => Invariant($"{value()}\n"));

    private static string[] Components(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);

    private static SysfsAttribute Hex(Func<uint> value, int digits) => new(() => "0x" + value().ToString("x" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + "\n");

    private static SysfsAttribute Hex(Func<ushort> value, int digits) => Hex(() => (uint)value(), digits);

    // Inode numbers in tree order: the same tree built twice numbers its nodes the same.
    private static ulong Number(SysfsNode node, ulong next)
    {
        node.Inode = next++;
        if (node is SysfsDirectory directory)
        {
            foreach ((string _, SysfsNode child) in directory.Entries)
            {
                next = Number(child, next);
            }
        }

        return next;
    }
}
