using System.Globalization;
using Abi.DeviceFlows;
using Abi.Runtime.Kernel;
using Abi.Runtime.Pci;

// abi_device_flows <segment:bus:device.function> [--noiommu]: TAP on stdout, one test per step and
// IOMMU mode; with --noiommu, the no-IOMMU mode alone (a machine without an IOMMU, the vfio module's
// enable_unsafe_noiommu_mode set).
bool noIommu = args.Length == 2 && args[1] == "--noiommu";
if (args.Length is < 1 or > 2 || (args.Length == 2 && !noIommu) || !PciAddress.TryParse(args[0], out PciAddress address))
{
    Console.Error.WriteLine("usage: abi_device_flows <segment:bus:device.function> [--noiommu] (QEMU's edu bound to vfio-pci)");
    return 2;
}

IKernel kernel = Backend.Default;
var flows = new EduFlows(address, kernel);
VfioIommuMode[] modes = noIommu
    ? [VfioIommuMode.NoIommu]
    : [VfioIommuMode.Type1, VfioIommuMode.Type1v2, VfioIommuMode.IommufdCompatType1, VfioIommuMode.IommufdCompatType1v2, VfioIommuMode.Iommufd];
var tap = new Tap(Console.Out);
tap.Plan(modes.Sum(EduFlows.StepCount));
foreach (VfioIommuMode mode in modes)
{
    flows.Run(mode, tap);
}

Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# Totals: pass:{tap.Passed} fail:{tap.Failed}"));
return tap.Failed == 0 ? 0 : 1;
