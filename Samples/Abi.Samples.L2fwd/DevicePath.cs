using Abi.Runtime.Kernel;
using Abi.Runtime.Pci;

namespace Abi.Samples.L2fwd;

/// <summary>Turns what the user typed (a VFIO cdev path or a PCI address) into a cdev path, through the runtime's PCI discovery.</summary>
public static class DevicePath
{
    /// <summary>A cdev path is returned as is; a PCI address (<c>0000:00:03.0</c> or <c>00:03.0</c>) is looked up in sysfs.</summary>
    public static string Resolve(string device, IKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.StartsWith('/'))
        {
            return device;
        }

        if (!PciAddress.TryParse(device, out PciAddress address))
        {
            throw new ArgumentException($"'{device}' is neither a path nor a PCI address (0000:00:03.0)");
        }

        PciFunction function = PciFunction.Find(address, kernel)
            ?? throw new ArgumentException($"{address}: no such PCI function in {PciFunction.DevicesPath}");
        if (function.Driver != "vfio-pci")
        {
            throw new ArgumentException(
                $"{address} is bound to {function.Driver ?? "no driver"}, not vfio-pci; bind it to vfio-pci: echo vfio-pci > /sys/bus/pci/devices/{address}/driver_override" +
                (function.Driver is null ? string.Empty : $"; echo {address} > /sys/bus/pci/drivers/{function.Driver}/unbind") +
                $"; echo {address} > /sys/bus/pci/drivers_probe");
        }

        return function.VfioCdev
            ?? throw new ArgumentException($"{address} has no VFIO cdev (no vfio-dev in sysfs): the kernel lacks CONFIG_VFIO_DEVICE_CDEV");
    }
}
