using V = Abi.Linux.Virtio.Constants;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// Numbers from the virtio 1.x specification that the driver needs; each names its section. All
/// that the virtio UAPI headers define (virtio_config.h, virtio_ring.h, virtio_pci.h, virtio_net.h,
/// virtio_ids.h) come from the generated bindings (<c>Abi.Linux.Virtio</c>, shared with the engine's
/// device); the PCI capability id comes from linux/pci_regs.h; the PCI vendor id is the PCI-SIG's
/// assignment, which no UAPI header defines.
/// </summary>
internal static class VirtioSpec
{
    /// <summary>PCI vendor id of virtio devices; modern network devices are 0x1041 (§4.1.2.1).</summary>
    public const ushort VendorId = 0x1AF4, NetDeviceId = 0x1040 + V.VIRTIO_ID_NET;

    /// <summary>Vendor-specific PCI capability carrying a virtio structure (§4.1.4).</summary>
    public const byte VendorCapability = Abi.Linux.Pci.Constants.PCI_CAP_ID_VNDR;

    /// <summary>cfg_type of struct virtio_pci_cap (§4.1.4).</summary>
    public const byte CommonCfg = V.VIRTIO_PCI_CAP_COMMON_CFG, NotifyCfg = V.VIRTIO_PCI_CAP_NOTIFY_CFG, IsrCfg = V.VIRTIO_PCI_CAP_ISR_CFG, DeviceCfg = V.VIRTIO_PCI_CAP_DEVICE_CFG;

    /// <summary>struct virtio_pci_common_cfg register offsets (§4.1.4.3).</summary>
    public const int DeviceFeatureSelect = V.VIRTIO_PCI_COMMON_DFSELECT, DeviceFeature = V.VIRTIO_PCI_COMMON_DF,
        DriverFeatureSelect = V.VIRTIO_PCI_COMMON_GFSELECT, DriverFeature = V.VIRTIO_PCI_COMMON_GF,
        ConfigMsixVector = V.VIRTIO_PCI_COMMON_MSIX, NumQueues = V.VIRTIO_PCI_COMMON_NUMQ, DeviceStatus = V.VIRTIO_PCI_COMMON_STATUS,
        QueueSelect = V.VIRTIO_PCI_COMMON_Q_SELECT, QueueSize = V.VIRTIO_PCI_COMMON_Q_SIZE, QueueMsixVector = V.VIRTIO_PCI_COMMON_Q_MSIX,
        QueueEnable = V.VIRTIO_PCI_COMMON_Q_ENABLE, QueueNotifyOff = V.VIRTIO_PCI_COMMON_Q_NOFF,
        QueueDesc = V.VIRTIO_PCI_COMMON_Q_DESCLO, QueueDriver = V.VIRTIO_PCI_COMMON_Q_AVAILLO, QueueDevice = V.VIRTIO_PCI_COMMON_Q_USEDLO;

    /// <summary>Fields of struct virtio_pci_cap and virtio_pci_notify_cap, from the capability's start (§4.1.4).</summary>
    public const int CapBar = V.VIRTIO_PCI_CAP_BAR, CapOffset = V.VIRTIO_PCI_CAP_OFFSET, CapLength = V.VIRTIO_PCI_CAP_LENGTH,
        CapNotifyMultiplier = V.VIRTIO_PCI_NOTIFY_CAP_MULT;

    /// <summary>Device status bits (§2.1).</summary>
    public const byte Acknowledge = V.VIRTIO_CONFIG_S_ACKNOWLEDGE, Driver = V.VIRTIO_CONFIG_S_DRIVER, DriverOk = V.VIRTIO_CONFIG_S_DRIVER_OK,
        FeaturesOk = V.VIRTIO_CONFIG_S_FEATURES_OK, NeedsReset = V.VIRTIO_CONFIG_S_NEEDS_RESET, Failed = V.VIRTIO_CONFIG_S_FAILED;

    /// <summary>Feature bits: MAC (§5.1.3), VERSION_1 and ACCESS_PLATFORM (§6).</summary>
    public const ulong NetMac = 1UL << V.VIRTIO_NET_F_MAC, Version1 = 1UL << V.VIRTIO_F_VERSION_1, AccessPlatform = 1UL << V.VIRTIO_F_ACCESS_PLATFORM;

    /// <summary>MSI-X "no vector" (§4.1.5.1.2).</summary>
    public const ushort NoVector = V.VIRTIO_MSI_NO_VECTOR;

    /// <summary>Descriptor flags (§2.7.5) and ring flags (§2.7.7, §2.7.10).</summary>
    public const ushort DescWrite = V.VRING_DESC_F_WRITE, AvailNoInterrupt = V.VRING_AVAIL_F_NO_INTERRUPT, UsedNoNotify = V.VRING_USED_F_NO_NOTIFY;

    /// <summary>struct virtio_net_hdr when VERSION_1 is negotiated: 12 bytes, num_buffers included (§5.1.6).</summary>
    public static readonly int NetHeaderLength = System.Runtime.CompilerServices.Unsafe.SizeOf<Abi.Linux.Virtio.virtio_net_hdr_v1>();

    /// <summary>Receive and transmit queue of the first pair (§5.1.2).</summary>
    public const int ReceiveQueue = 0, TransmitQueue = 1;
}
