using Abi.Runtime.Engine.Devices;

namespace Abi.Runtime.Engine.Vfio;

/// <summary>
/// A registered device as VFIO shows it: its cdev <c>/dev/vfio/devices/vfioN</c>, its IOMMU group
/// <c>/dev/vfio/G</c>, and who has it open. A device is opened once at a time (a cdev bound to an
/// iommufd, or a device fd from its group), as vfio-pci allows.
/// </summary>
internal sealed class EmulatedDevice(PciDevice model, int index, int group)
{
    public PciDevice Model { get; } = model;

    public int Index { get; } = index;

    public int Group { get; } = group;

    public string CdevPath => $"/dev/vfio/devices/vfio{Index}";

    public string GroupPath => $"/dev/vfio/{Group}";

    /// <summary>Serialises open, bind and close of this device.</summary>
    public Lock Sync { get; } = new();

    /// <summary>The device fd that opened the device (bound cdev or group device fd), if any.</summary>
    public VfioDeviceFile? Owner { get; set; }

    /// <summary>Whether the group file is open (a cdev bind is then EBUSY).</summary>
    public bool GroupOpen { get; set; }
}
