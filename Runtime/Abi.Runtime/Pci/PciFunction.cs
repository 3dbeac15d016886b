using System.Globalization;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Pci;

/// <summary>
/// A PCI function as sysfs describes it (<c>/sys/bus/pci/devices/&lt;address&gt;</c>): its ids, the
/// driver bound to it, its IOMMU group, and its VFIO cdev when vfio-pci has it. Read through the
/// seam, so the engine answers for its emulated functions as a kernel does for real ones.
/// </summary>
public sealed record PciFunction(
    PciAddress Address,
    ushort VendorId,
    ushort DeviceId,
    uint ClassCode,
    string? Driver,
    int? IommuGroup,
    string? VfioCdev)
{
    /// <summary>Where sysfs lists PCI functions.</summary>
    public const string DevicesPath = "/sys/bus/pci/devices";

    /// <summary>Every function sysfs lists, in address order.</summary>
    public static IReadOnlyList<PciFunction> List(IKernel? kernel = null)
    {
        kernel ??= Backend.Default;
        int rc = Sysfs.List(kernel, DevicesPath, out List<string> names);
        if (rc < 0)
        {
            throw new SyscallException("getdents64", DevicesPath, (Abi.Interop.Errno)(-rc), kernel.LastErrorReason);
        }

        var functions = new List<PciFunction>(names.Count);
        foreach (string name in names)
        {
            if (PciAddress.TryParse(name, out PciAddress address) && Find(address, kernel) is PciFunction function)
            {
                functions.Add(function);
            }
        }

        return functions;
    }

    /// <summary>The function at <paramref name="address"/>, or null when sysfs has none there.</summary>
    public static PciFunction? Find(PciAddress address, IKernel? kernel = null)
    {
        kernel ??= Backend.Default;
        string directory = $"{DevicesPath}/{address}";
        if (Sysfs.ReadText(kernel, directory + "/vendor") is not string vendor)
        {
            return null;
        }

        string? cdev = null;
        if (Sysfs.List(kernel, directory + "/vfio-dev", out List<string> vfio) == 0 && vfio.Count > 0)
        {
            cdev = "/dev/vfio/devices/" + vfio[0];
        }

        return new PciFunction(
            address,
            (ushort)Hex(vendor),
            (ushort)Hex(Sysfs.ReadText(kernel, directory + "/device")),
            Hex(Sysfs.ReadText(kernel, directory + "/class")),
            Sysfs.LinkName(kernel, directory + "/driver"),
            int.TryParse(Sysfs.LinkName(kernel, directory + "/iommu_group"), NumberStyles.None, CultureInfo.InvariantCulture, out int group) ? group : null,
            cdev);
    }

    /// <summary>The other functions in this function's IOMMU group, with their drivers (what makes a group not viable).</summary>
    public IReadOnlyList<PciFunction> GroupPeers(IKernel? kernel = null)
    {
        kernel ??= Backend.Default;
        if (IommuGroup is not int group || Sysfs.List(kernel, $"/sys/kernel/iommu_groups/{group}/devices", out List<string> names) < 0)
        {
            return [];
        }

        return [.. names.Where(n => n != Address.ToString()).Select(n => PciAddress.TryParse(n, out PciAddress a) ? Find(a, kernel) : null).OfType<PciFunction>()];
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Address} [{VendorId:x4}:{DeviceId:x4}] class {ClassCode:x6} driver {Driver ?? "(none)"} group {(IommuGroup is int g ? g.ToString(CultureInfo.InvariantCulture) : "(none)")}";

    private static uint Hex(string? text) =>
        text is not null && uint.TryParse(text.StartsWith("0x", StringComparison.Ordinal) ? text[2..] : text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint value) ? value : 0;
}
