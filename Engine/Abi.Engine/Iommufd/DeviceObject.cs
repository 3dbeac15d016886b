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

    /// <summary>A mock device's four cache slots (IOMMU_TEST_DEV_CACHE_DEFAULT until a vIOMMU invalidation clears them).</summary>
    public uint[]? MockCache { get; } = iommu.IsMock ? [0xbaddad, 0xbaddad, 0xbaddad, 0xbaddad] : null;

    /// <summary>The mock device's cache slots (MOCK_DEV_CACHE_NUM).</summary>
    public const int MockCacheSlots = 4;

    /// <summary>The HWPT the device (its RID) is attached to, or null (DMA blocked).</summary>
    public HwptObject? Hwpt { get; set; }

    /// <summary>What each PASID of the device is attached to (none: the PASID is blocked).</summary>
    public Dictionary<uint, HwptObject> Pasids { get; } = [];

    /// <summary>The device's vDEVICE (at most one), if any.</summary>
    public VdeviceObject? Vdevice { get; set; }

    /// <summary>
    /// What the mock driver noted at the last attach that changed it: the vIOMMU of the nested HWPT
    /// the device went to and the device's virtual ID there (TRIGGER_VEVENT reports with these).
    /// </summary>
    public (ViommuObject? Viommu, ulong VirtId) MockViommu { get; set; }

    /// <summary>
    /// The mock driver's armed failure: after a successful attach of PASID 1024, its next change
    /// to another domain fails once with ENOMEM (the selftest's way to test replace rollback).
    /// </summary>
    public bool MockPasid1024Fails { get; set; }
}
