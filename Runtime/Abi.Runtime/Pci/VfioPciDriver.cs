using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Pci;

/// <summary>
/// Giving a PCI function to vfio-pci and back, as an administrator does through sysfs: set
/// <c>driver_override</c>, unbind the current driver, ask the bus to probe (drivers/base/bus.c,
/// drivers/pci/pci-sysfs.c). Needs root on a kernel; the engine serves the same files.
/// </summary>
public static class VfioPciDriver
{
    private const string Name = "vfio-pci";

    /// <summary>Binds the function to vfio-pci; returns the driver it had (null: none), for <see cref="Release"/>.</summary>
    /// <exception cref="VfioSetupException">A step failed, or vfio-pci did not take the function.</exception>
    public static string? Bind(PciAddress address, IKernel? kernel = null)
    {
        kernel ??= Backend.Default;
        PciFunction function = PciFunction.Find(address, kernel) ?? throw new VfioSetupException($"{address}: no such PCI function");
        if (function.Driver == Name)
        {
            return Name;
        }

        string device = $"{PciFunction.DevicesPath}/{address}";
        Step(kernel, $"{device}/driver_override", Name);
        if (function.Driver is string driver)
        {
            Step(kernel, $"/sys/bus/pci/drivers/{driver}/unbind", address.ToString());
        }

        Step(kernel, "/sys/bus/pci/drivers_probe", address.ToString());
        string? now = PciFunction.Find(address, kernel)?.Driver;
        return now == Name
            ? function.Driver
            : throw new VfioSetupException($"{address}: after the probe it is bound to {now ?? "no driver"}, not vfio-pci; is the vfio-pci module loaded?");
    }

    /// <summary>Takes the function from vfio-pci, clears the override and lets the bus probe it again (its own driver, if one matches, takes it).</summary>
    /// <exception cref="VfioSetupException">A step failed (busy: a device fd or its group is still open).</exception>
    public static void Release(PciAddress address, IKernel? kernel = null)
    {
        kernel ??= Backend.Default;
        PciFunction function = PciFunction.Find(address, kernel) ?? throw new VfioSetupException($"{address}: no such PCI function");
        if (function.Driver == Name)
        {
            Step(kernel, $"/sys/bus/pci/drivers/{Name}/unbind", address.ToString());
        }

        Step(kernel, $"{PciFunction.DevicesPath}/{address}/driver_override", "\n");
        Step(kernel, "/sys/bus/pci/drivers_probe", address.ToString());
    }

    private static void Step(IKernel kernel, string path, string text)
    {
        int rc = Sysfs.WriteText(kernel, path, text);
        if (rc < 0)
        {
            var errno = (Errno)(-rc);
            string why = errno switch
            {
                Errno.EACCES or Errno.EPERM => "not permitted: binding drivers needs root",
                Errno.EBUSY => "busy: close every fd on the device and its group first",
                Errno.ENODEV => "the driver does not have the function, or does not match it",
                _ => kernel.LastErrorReason ?? errno.ToString(),
            };
            throw new VfioSetupException($"writing '{text.TrimEnd('\n')}' to {path} failed: {errno} ({why})");
        }
    }
}
