
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

    /// <summary>virtio_pci_cap cfg_type values (§4.1.4).</summary>
    public const byte CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4;

    /// <summary>struct virtio_pci_common_cfg register offsets (§4.1.4.3).</summary>
    public const int DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C,
        ConfigMsixVector = 0x10, NumQueues = 0x12, DeviceStatus = 0x14, ConfigGeneration = 0x15,
        QueueSelect = 0x16, QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C, QueueNotifyOff = 0x1E,
        QueueDesc = 0x20, QueueDriver = 0x28, QueueDevice = 0x30, CommonLength = 0x38;
}
