using Abi.Linux.Virtio;
using V = Abi.Linux.Virtio.Constants;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// Where the engine's virtio-net puts its virtio 1.x structures (virtio 1.x §4.1.4): the same places as
/// QEMU's virtio-net-pci with <c>disable-legacy=on</c>, so a driver tested on the engine meets the
/// layout it will meet under QEMU. BAR4 (16 KiB, 64-bit) holds the four windows, BAR1 the MSI-X table.
/// </summary>
internal static class VirtioPciLayout
{
    public const int StructuresBar = 4;
    public const ulong StructuresBarSize = 0x4000;
    public const uint CommonOffset = 0x0000, IsrOffset = 0x1000, DeviceOffset = 0x2000, NotifyOffset = 0x3000;
    public const uint WindowLength = 0x1000;

    /// <summary>Queue n's doorbell is at NotifyOffset + n × this (queue_notify_off = n).</summary>
    public const uint NotifyOffMultiplier = 4;

    public const int MsixBar = 1;
    public const ulong MsixBarSize = 0x1000;
    public const uint MsixTableOffset = 0x000, MsixPbaOffset = 0x800;

    /// <summary>virtio_pci_cap cfg_type values (§4.1.4), from linux/virtio_pci.h.</summary>
    public const byte CommonCfg = V.VIRTIO_PCI_CAP_COMMON_CFG, NotifyCfg = V.VIRTIO_PCI_CAP_NOTIFY_CFG, IsrCfg = V.VIRTIO_PCI_CAP_ISR_CFG, DeviceCfg = V.VIRTIO_PCI_CAP_DEVICE_CFG;

    /// <summary>struct virtio_pci_common_cfg register offsets (§4.1.4.3), from linux/virtio_pci.h.</summary>
    public const int DeviceFeatureSelect = V.VIRTIO_PCI_COMMON_DFSELECT, DeviceFeature = V.VIRTIO_PCI_COMMON_DF,
        DriverFeatureSelect = V.VIRTIO_PCI_COMMON_GFSELECT, DriverFeature = V.VIRTIO_PCI_COMMON_GF,
        ConfigMsixVector = V.VIRTIO_PCI_COMMON_MSIX, NumQueues = V.VIRTIO_PCI_COMMON_NUMQ, DeviceStatus = V.VIRTIO_PCI_COMMON_STATUS,
        ConfigGeneration = V.VIRTIO_PCI_COMMON_CFGGENERATION, QueueSelect = V.VIRTIO_PCI_COMMON_Q_SELECT, QueueSize = V.VIRTIO_PCI_COMMON_Q_SIZE,
        QueueMsixVector = V.VIRTIO_PCI_COMMON_Q_MSIX, QueueEnable = V.VIRTIO_PCI_COMMON_Q_ENABLE, QueueNotifyOff = V.VIRTIO_PCI_COMMON_Q_NOFF,
        QueueDesc = V.VIRTIO_PCI_COMMON_Q_DESCLO, QueueDriver = V.VIRTIO_PCI_COMMON_Q_AVAILLO, QueueDevice = V.VIRTIO_PCI_COMMON_Q_USEDLO;

    /// <summary>sizeof(struct virtio_pci_common_cfg): the registers a virtio 1.0 driver knows.</summary>
    public static readonly int CommonLength = System.Runtime.CompilerServices.Unsafe.SizeOf<virtio_pci_common_cfg>();
}
