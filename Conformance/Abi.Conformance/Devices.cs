using Abi.Engine;
using Abi.Engine.Devices;
using Abi.Engine.Devices.Virtio;
using Abi.Runtime.Kernel;

namespace Abi.Conformance;

/// <summary>Where the scenario devices are: found in sysfs inside the guest, or created in the engine to match QEMU's.</summary>
/// <param name="Kernel">The backend.</param>
/// <param name="EduCdev">The edu device's VFIO cdev.</param>
/// <param name="EduGroup">Its IOMMU group node.</param>
/// <param name="EduPciName">Its PCI name (for VFIO_GROUP_GET_DEVICE_FD).</param>
/// <param name="VirtioCdevs">The two virtio-net devices' cdevs (empty when absent).</param>
/// <param name="Inventory">Every test device by name, for the inventory scenario.</param>
public sealed record Devices(IKernel Kernel, string EduCdev, string EduGroup, string EduPciName, IReadOnlyList<string> VirtioCdevs, IReadOnlyList<(string Name, string Cdev)> Inventory)
{
    /// <summary>The engine imitating the guest: legacy type1 behind /dev/vfio/vfio, an edu, two virtio-net devices cabled together, an e1000e.</summary>
    public static Devices Engine()
    {
        var kernel = new EmulatedKernel(ContainerBackend.Type1);
        var edu = kernel.AddDevice(new EduDevice(msix: false, functionReset: false));      // QEMU's edu exactly
        var a = new VirtioNetDevice([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
        var b = new VirtioNetDevice([0x52, 0x54, 0, 0x12, 0x34, 0x57]);
        EthernetWire.Connect(a, b);
        string[] virtio = [kernel.AddDevice(a).CdevPath!, kernel.AddDevice(b).CdevPath!];
        string e1000e = kernel.AddDevice(new E1000eDevice()).CdevPath!;
        return new Devices(kernel, edu.CdevPath!, edu.GroupPath, edu.PciName, virtio, [("edu", edu.CdevPath!), ("virtio-net", virtio[0]), ("e1000e", e1000e)]);
    }

    /// <summary>The guest's devices bound to vfio-pci, found by vendor and device id.</summary>
    public static Devices Sysfs()
    {
        string? edu = null, e1000e = null;
        var virtio = new List<string>();
        foreach (string dir in Directory.EnumerateDirectories("/sys/bus/pci/devices").Order(StringComparer.Ordinal))
        {
            string id = $"{File.ReadAllText(Path.Combine(dir, "vendor")).Trim()}:{File.ReadAllText(Path.Combine(dir, "device")).Trim()}";
            if (!Directory.Exists(Path.Combine(dir, "vfio-dev")))
            {
                continue;
            }

            if (id == "0x1234:0x11e8")
            {
                edu = dir;
            }
            else if (id == "0x1af4:0x1041")
            {
                virtio.Add(dir);
            }
            else if (id == "0x8086:0x10d3")
            {
                e1000e = dir;
            }
        }

        if (edu is null)
        {
            throw new InvalidOperationException("no edu device bound to vfio-pci");
        }

        string group = Path.GetFileName(new FileInfo(Path.Combine(edu, "iommu_group")).LinkTarget!);
        var inventory = new List<(string, string)> { ("edu", Cdev(edu)) };
        if (virtio.Count > 0)
        {
            inventory.Add(("virtio-net", Cdev(virtio[0])));
        }

        if (e1000e is not null)
        {
            inventory.Add(("e1000e", Cdev(e1000e)));
        }

        return new Devices(LinuxKernel.Instance, Cdev(edu), $"/dev/vfio/{group}", Path.GetFileName(edu), virtio.Select(Cdev).ToArray(), inventory);

        static string Cdev(string device) => "/dev/vfio/devices/" + Path.GetFileName(Directory.EnumerateDirectories(Path.Combine(device, "vfio-dev")).First());
    }
}
