using Abi.Engine.Pci;

namespace Abi.Engine.Vfio;

/// <summary>
/// A registered device as VFIO shows it: its cdev <c>/dev/vfio/devices/vfioN</c>, its IOMMU group
/// <c>/dev/vfio/G</c>, and who has it open. A device is opened once at a time (a cdev bound to an
/// iommufd, or a device fd from its group), as vfio-pci allows.
/// </summary>
internal sealed class EmulatedDevice(PciDevice model, int index, int group, bool noIommu)
{
    /// <summary>A device without an IOMMU (no-IOMMU mode): group <c>noiommu-G</c>, no cdev.</summary>
    public bool NoIommu { get; } = noIommu;

    /// <summary>Its PCI address, the name VFIO_GROUP_GET_DEVICE_FD takes.</summary>
    public string PciName => $"0000:00:{Index + 3:x2}.0";

    public PciDevice Model { get; } = model;

    public int Index { get; } = index;

    public int Group { get; } = group;

    public string CdevPath => $"/dev/vfio/devices/vfio{Index}";

    public string GroupPath => NoIommu ? $"/dev/vfio/noiommu-{Group}" : $"/dev/vfio/{Group}";

    /// <summary>The group file while it is open.</summary>
    public VfioGroupFile? OpenGroup { get; set; }

    /// <summary>Serialises open, bind and close of this device.</summary>
    public Lock Sync { get; } = new();

    /// <summary>The device fd that opened the device (bound cdev or group device fd), if any.</summary>
    public VfioDeviceFile? Owner { get; set; }

    /// <summary>Whether the group file is open (a cdev bind is then EBUSY).</summary>
    public bool GroupOpen => OpenGroup is not null;

    /// <summary>
    /// Whether vfio-pci has the function (it has, from registration on). Unbound, the function keeps
    /// its IOMMU group but VFIO shows nothing of it: no cdev, no <c>/dev/vfio/G</c>, no driver link.
    /// </summary>
    public bool BoundToVfio { get; set; } = true;

    /// <summary>sysfs <c>driver_override</c>: the one driver a probe may bind (null: any that matches).</summary>
    public string? DriverOverride { get; set; }

    /// <summary>Whether a device fd or the group holds the function (an unbind then waits in the kernel; the engine refuses it).</summary>
    public bool InUse => Owner is not null || GroupOpen;
}
