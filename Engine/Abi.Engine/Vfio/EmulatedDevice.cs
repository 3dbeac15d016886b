using Abi.Engine.Iommufd;
using Abi.Engine.Pci;

namespace Abi.Engine.Vfio;

/// <summary>
/// A registered device as VFIO shows it: its cdev <c>/dev/vfio/devices/vfioN</c>, its IOMMU group
/// <c>/dev/vfio/G</c>, and who has it open. A device is opened once at a time (a cdev bound to an
/// iommufd, or a device fd from its group), as vfio-pci allows.
/// </summary>
internal sealed class EmulatedDevice(PciDevice model, int index, int group, bool noIommu, string? pciName = null)
{
    /// <summary>A device without an IOMMU (no-IOMMU mode): group <c>noiommu-G</c>, no cdev.</summary>
    public bool NoIommu { get; } = noIommu;

    /// <summary>Its PCI address, the name VFIO_GROUP_GET_DEVICE_FD takes.</summary>
    public string PciName { get; } = pciName ?? $"0000:00:{index + 3:x2}.0";

    /// <summary>For a VF, the PF that made it (pci_physfn); null for any other function.</summary>
    public EmulatedDevice? PhysicalFunction { get; init; }

    private readonly List<EmulatedDevice> _virtualFunctions = [];

    /// <summary>A PF's VFs while SR-IOV is enabled, in VF order.</summary>
    public IReadOnlyList<EmulatedDevice> VirtualFunctions => _virtualFunctions;

    /// <summary>pci_iov_add_virtfn: VF number <see cref="VirtualFunctions"/>.Count appears.</summary>
    public void AddVirtualFunction(EmulatedDevice vf) => _virtualFunctions.Add(vf);

    /// <summary>pci_disable_sriov: the VFs go.</summary>
    public void RemoveVirtualFunctions() => _virtualFunctions.Clear();

    /// <summary>vfio_pci_vf_init, when vfio-pci takes an SR-IOV PF: a new random VF token.</summary>
    public void TakenByVfioPci()
    {
        BoundToVfio = true;
        if (VfToken is not null)
        {
            VfToken = VfTokens.Random();
        }
    }

    /// <summary>
    /// A PF's VF token (vfio_pci_vf_init: a random UUID when vfio-pci takes the PF), and how many of its
    /// VFs are open (vf_token->users). Null for functions without SR-IOV.
    /// </summary>
    public UInt128? VfToken { get; set; } = model.Sriov is null ? null : VfTokens.Random();

    /// <summary>How many of a PF's VFs are open through VFIO (vf_token->users).</summary>
    public int VfTokenUsers { get; set; }

    /// <summary>Whether vfio-pci enabled this PF's VFs (it is on vfio_pci_sriov_pfs); a VF then has its PF as sriov_pf_core_dev.</summary>
    public bool SriovByVfio { get; set; }

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

    /// <summary>
    /// Device fds open through group files (vfio_device's open_count on the group path): counted on the
    /// device, not the group file, because a group file closed while its iommufd-backed devices stay
    /// open can be opened again, and its next device fd opens the same, already open, device.
    /// </summary>
    public int GroupOpenCount { get; set; }

    /// <summary>The device's binding in an iommufd, made by its first group-path open and undone by its last close (vfio_df_iommufd_bind/unbind).</summary>
    public (DeviceObject Bound, IommufdFile Context)? GroupBinding { get; set; }

    /// <summary>Whether the group file is open (a cdev bind is then EBUSY).</summary>
    public bool GroupOpen => OpenGroup is not null;

    /// <summary>
    /// Whether vfio-pci has the function (it has, from registration on). Unbound, the function keeps
    /// its IOMMU group but VFIO shows nothing of it: no cdev, no <c>/dev/vfio/G</c>, no driver link.
    /// </summary>
    public bool BoundToVfio { get; set; } = true;

    /// <summary>sysfs <c>driver_override</c>: the one driver a probe may bind (null: any that matches).</summary>
    public string? DriverOverride { get; set; }

    /// <summary>
    /// vfio-pci's pm_runtime_engaged: the user asked for low power (VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY*),
    /// with the engine's reference to the wakeup eventfd, if one was given (-1 if not).
    /// </summary>
    public bool LowPowerEngaged { get; set; }

    public int LowPowerWakeup { get; set; } = -1;

    /// <summary>Config space as the user of the open device sees it (vfio_config_init at open, freed at the last close).</summary>
    public VfioPciConfig? Config { get; set; }

    /// <summary>__vfio_pci_memory_enabled: memory decoding as the device's user set it (off while nobody has it open).</summary>
    public bool MemoryEnabled => Config?.MemoryEnabled ?? Model.Config.MemoryEnabled;

    /// <summary>The dma-bufs exported of its BARs (VFIO_DEVICE_FEATURE_DMA_BUF), revoked while its memory does not decode.</summary>
    public VfioDmaBufs DmaBufs { get; } = new();

    /// <summary>VFIO_DEVICE_IOEVENTFD's registrations (vdev->ioeventfds_list).</summary>
    public IoEventfds IoEventfds => LazyInitializer.EnsureInitialized(ref field, () => new(Model, () => MemoryEnabled));


    /// <summary>Whether a device fd or the group holds the function (an unbind then waits in the kernel; the engine refuses it).</summary>
    public bool InUse => Owner is not null || GroupOpen;
}
