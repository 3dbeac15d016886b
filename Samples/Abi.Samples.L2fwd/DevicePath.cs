using System.Text.RegularExpressions;

namespace Abi.Samples.L2fwd;

/// <summary>Turns what the user typed (a VFIO cdev path or a PCI address) into a cdev path.</summary>
public static partial class DevicePath
{
    /// <summary>A cdev path is returned as is; a PCI address (0000:00:03.0) is looked up under /sys/bus/pci/devices/ADDRESS/vfio-dev/.</summary>
    public static string Resolve(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.StartsWith('/'))
        {
            return device;
        }

        string address = PciAddress().IsMatch(device) ? device : $"0000:{device}";
        if (!PciAddress().IsMatch(address))
        {
            throw new ArgumentException($"'{device}' is neither a path nor a PCI address (0000:00:03.0)");
        }

        string vfioDev = $"/sys/bus/pci/devices/{address}/vfio-dev";
        string? name = Directory.Exists(vfioDev) ? Directory.EnumerateDirectories(vfioDev, "vfio*").Select(Path.GetFileName).FirstOrDefault() : null;
        return name is null
            ? throw new ArgumentException($"{address} has no VFIO cdev ({vfioDev} is missing): bind it to vfio-pci, on a kernel with CONFIG_VFIO_DEVICE_CDEV")
            : $"/dev/vfio/devices/{name}";
    }

    [GeneratedRegex("^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$")]
    private static partial Regex PciAddress();
}
