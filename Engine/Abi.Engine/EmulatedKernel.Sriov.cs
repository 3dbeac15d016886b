using System.Globalization;
using Abi.Engine.Pci;
using Abi.Engine.Vfio;
using Abi.Interop;

namespace Abi.Engine;

/// <summary>SR-IOV as sysfs and vfio-pci manage it: VFs made and removed through a PF's <c>sriov_numvfs</c>.</summary>
public sealed partial class EmulatedKernel
{
    /// <summary>
    /// vfio-pci's <c>enable_sriov</c> module parameter (off by default, as in the kernel): whether a
    /// PF that vfio-pci has may enable its VFs through <c>sriov_numvfs</c>.
    /// </summary>
    public bool VfioPciEnableSriov { get; set; }

    /// <summary>
    /// drivers/pci/iov.c: sriov_numvfs_store. A number (kstrtou16), at most TotalVFs (ERANGE); the
    /// same count again does nothing; the PF needs a driver with sriov_configure (ENOENT); 0 disables;
    /// enabling needs none enabled (EBUSY). Called with the text written.
    /// </summary>
    internal int StoreNumVfs(EmulatedDevice pf, string text)
    {
        SriovCapability sriov = pf.Model.Sriov!;
        if (!TryParseU16(text, out ushort count))
        {
            return -(int)Errno.EINVAL;
        }

        if (count > sriov.TotalVfs)
        {
            return -(int)Errno.ERANGE;
        }

        lock (_devices)
        {
            if (count == pf.VirtualFunctions.Count)
            {
                return 0;
            }

            if (!pf.BoundToVfio)
            {
                return -(int)Errno.ENOENT;                       // no driver bound to device
            }

            if (count == 0)
            {
                return ConfigureSriov(pf, 0);
            }

            return pf.VirtualFunctions.Count != 0 ? -(int)Errno.EBUSY : ConfigureSriov(pf, count);
        }
    }

    /// <summary>vfio_pci_sriov_configure, then vfio_pci_core_sriov_configure; <c>_devices</c> is locked.</summary>
    private int ConfigureSriov(EmulatedDevice pf, int count)
    {
        if (!VfioPciEnableSriov)
        {
            return -(int)Errno.ENOENT;
        }

        if (count > 0)
        {
            if (pf.SriovByVfio)
            {
                return -(int)Errno.EINVAL;                       // enabled once already without a disable
            }

            pf.SriovByVfio = true;
            EnableVirtualFunctions(pf, count);
            return 0;
        }

        // pci_disable_sriov removes the VFs; their removal would wait for their users in the kernel
        // (vfio_unregister_group_dev), which the engine cannot do inside a write: EBUSY instead.
        if (pf.VirtualFunctions.Any(vf => vf.InUse))
        {
            return -(int)Errno.EBUSY;
        }

        foreach (EmulatedDevice vf in pf.VirtualFunctions)
        {
            _devices.Remove(vf);
        }

        pf.RemoveVirtualFunctions();
        pf.SriovByVfio = false;
        return 0;
    }

    // pci_enable_sriov: each VF appears at its routing id with an IOMMU group of its own; vfio-pci's
    // bus notifier sets its driver_override to vfio-pci, so the probe binds it there.
    private void EnableVirtualFunctions(EmulatedDevice pf, int count)
    {
        SriovCapability sriov = pf.Model.Sriov!;
        int pfRoutingId = RoutingId(pf.PciName);
        for (int i = 0; i < count; i++)
        {
            PciDevice model = pf.Model.CreateVirtualFunction(i);
            int index = FreeIndex();
            int routing = sriov.VfRoutingId(pfRoutingId, i);
            string name = string.Create(CultureInfo.InvariantCulture, $"0000:{routing >> 8:x2}:{(routing >> 3) & 0x1F:x2}.{routing & 7}");
            var vf = new EmulatedDevice(model, index, index, pf.NoIommu, name) { PhysicalFunction = pf, DriverOverride = "vfio-pci" };
            _devices.Add(vf);
            pf.AddVirtualFunction(vf);
        }
    }

    // The lowest number no device has (cdev minors and IOMMU group ids come from IDAs in the kernel).
    private int FreeIndex()
    {
        int index = 0;
        while (_devices.Exists(d => d.Index == index))
        {
            index++;
        }

        return index;
    }

    private static int RoutingId(string pciName)
    {
        // dddd:bb:dd.f
        int bus = int.Parse(pciName.AsSpan(5, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        int device = int.Parse(pciName.AsSpan(8, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        int function = pciName[11] - '0';
        return (bus << 8) | (device << 3) | function;
    }

    // kstrtou16 with base 0: decimal, 0x hex or leading-0 octal; one trailing newline allowed.
    private static bool TryParseU16(string text, out ushort value)
    {
        value = 0;
        string digits = text.EndsWith('\n') ? text[..^1] : text;
        if (digits.StartsWith('+'))
        {
            digits = digits[1..];
        }

        int radix = 10;
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && digits.Length > 2)
        {
            radix = 16;
            digits = digits[2..];
        }
        else if (digits.Length > 1 && digits[0] == '0')
        {
            radix = 8;
            digits = digits[1..];
        }

        if (digits.Length == 0)
        {
            return false;
        }

        uint result = 0;
        foreach (char c in digits)
        {
            int digit = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => 99,
            };
            if (digit >= radix)
            {
                return false;
            }

            result = (result * (uint)radix) + (uint)digit;
            if (result > ushort.MaxValue)
            {
                return false;
            }
        }

        value = (ushort)result;
        return true;
    }
}
