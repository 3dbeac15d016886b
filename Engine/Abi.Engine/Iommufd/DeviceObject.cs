using Abi.Engine.Vfio;

namespace Abi.Engine.Iommufd;

/// <summary>
/// A device bound to a context (VFIO_DEVICE_BIND_IOMMUFD): what it is attached to, and the IOAS
/// holding its reserved regions. VFIO owns it: IOMMU_DESTROY on it is EBUSY; closing the device
/// fd unbinds it. A selftest mock device (IOMMU_TEST_CMD) has no PCI function behind it.
/// </summary>
internal sealed class DeviceObject(EmulatedDevice? device, IommuUnit iommu) : IommufdObject
{
    public override ObjectKind Kind => ObjectKind.Device;

    /// <summary>The PCI function, or null for a mock device.</summary>
    public EmulatedDevice? Device { get; } = device;

    /// <summary>The IOMMU in front of the device.</summary>
    public IommuUnit Iommu { get; } = iommu;

    /// <summary>What the IOMMU driver keeps for this device (<c>dev_iommu_priv</c>), or null.</summary>
    public object? DriverState { get; } = iommu.NewDeviceState();

    /// <summary>The HWPT the device (its RID) is attached to, or null (DMA blocked).</summary>
    public HwptObject? Hwpt { get; set; }

    // What each PASID of the device is attached to (none: the PASID is blocked).
    private readonly Dictionary<uint, HwptObject> _pasids = [];

    /// <summary>How many PASIDs are attached.</summary>
    public int PasidCount => _pasids.Count;

    /// <summary>The HWPT <paramref name="pasid"/> is attached to, or null (blocked).</summary>
    public HwptObject? PasidHwpt(uint pasid) => _pasids.GetValueOrDefault(pasid);

    /// <summary>Attaches (or replaces) what <paramref name="pasid"/> translates through.</summary>
    public void SetPasid(uint pasid, HwptObject hwpt) => _pasids[pasid] = hwpt;

    /// <summary>Blocks <paramref name="pasid"/>; returns what it was attached to.</summary>
    public bool RemovePasid(uint pasid, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out HwptObject? old) => _pasids.Remove(pasid, out old);

    /// <summary>The attached PASIDs, as a copy (for detaching them all).</summary>
    public uint[] AttachedPasids() => [.. _pasids.Keys];

    /// <summary>The device's vDEVICE (at most one), if any.</summary>
    public VdeviceObject? Vdevice { get; set; }
}
