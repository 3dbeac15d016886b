using V = Abi.Linux.Virtio.Constants;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// Numbers from the virtio 1.x specification that the driver needs; each names its section. Those
/// that linux/virtio_config.h and linux/virtio_ring.h define come from the generated bindings
/// (<c>Abi.Linux.Virtio</c>, shared with the engine's device); the PCI layout and the net feature
/// and header live in virtio_pci.h and virtio_net.h, which the extractor cannot read yet.
/// </summary>
internal static class VirtioSpec
{
    /// <summary>PCI vendor id of virtio devices; modern network devices are 0x1041 (§4.1.2.1).</summary>
    public const ushort VendorId = 0x1AF4, NetDeviceId = 0x1041;

    /// <summary>Vendor-specific PCI capability carrying a virtio structure (§4.1.4).</summary>
    public const byte VendorCapability = 0x09;

    /// <summary>cfg_type of struct virtio_pci_cap (§4.1.4).</summary>
    public const byte CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4;

    /// <summary>struct virtio_pci_common_cfg register offsets (§4.1.4.3).</summary>
    public const int DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C,
        ConfigMsixVector = 0x10, NumQueues = 0x12, DeviceStatus = 0x14,
        QueueSelect = 0x16, QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C, QueueNotifyOff = 0x1E,
        QueueDesc = 0x20, QueueDriver = 0x28, QueueDevice = 0x30;

    /// <summary>Device status bits (§2.1).</summary>
    public const byte Acknowledge = V.VIRTIO_CONFIG_S_ACKNOWLEDGE, Driver = V.VIRTIO_CONFIG_S_DRIVER, DriverOk = V.VIRTIO_CONFIG_S_DRIVER_OK,
        FeaturesOk = V.VIRTIO_CONFIG_S_FEATURES_OK, NeedsReset = V.VIRTIO_CONFIG_S_NEEDS_RESET, Failed = V.VIRTIO_CONFIG_S_FAILED;

    /// <summary>Feature bits: MAC (§5.1.3), VERSION_1 and ACCESS_PLATFORM (§6).</summary>
    public const ulong NetMac = 1UL << 5, Version1 = 1UL << V.VIRTIO_F_VERSION_1, AccessPlatform = 1UL << V.VIRTIO_F_ACCESS_PLATFORM;

    /// <summary>MSI-X "no vector" (§4.1.5.1.2).</summary>
    public const ushort NoVector = 0xFFFF;

    /// <summary>Descriptor flags (§2.7.5) and ring flags (§2.7.7, §2.7.10).</summary>
    public const ushort DescWrite = V.VRING_DESC_F_WRITE, AvailNoInterrupt = V.VRING_AVAIL_F_NO_INTERRUPT, UsedNoNotify = V.VRING_USED_F_NO_NOTIFY;

    /// <summary>struct virtio_net_hdr when VERSION_1 is negotiated: 12 bytes, num_buffers included (§5.1.6).</summary>
    public const int NetHeaderLength = 12;

    /// <summary>Receive and transmit queue of the first pair (§5.1.2).</summary>
    public const int ReceiveQueue = 0, TransmitQueue = 1;
}
