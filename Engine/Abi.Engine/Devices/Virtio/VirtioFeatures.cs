
using V = Abi.Linux.Virtio.Constants;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// The feature bits and status bits the engine's virtio-net uses (virtio 1.x §2.1, §5.1.3, §6):
/// from the generated bindings of linux/virtio_config.h, virtio_ring.h, virtio_pci.h and virtio_net.h
/// (the driver uses the same ones).
/// </summary>
internal static class VirtioFeatures
{
    public const ulong NetMac = 1UL << V.VIRTIO_NET_F_MAC;
    public const ulong Version1 = 1UL << V.VIRTIO_F_VERSION_1;
    public const ulong AccessPlatform = 1UL << V.VIRTIO_F_ACCESS_PLATFORM;

    /// <summary>What the device offers: no offloads, no control queue, no event index, no indirect descriptors.</summary>
    public const ulong Offered = NetMac | Version1 | AccessPlatform;

    public const byte Acknowledge = V.VIRTIO_CONFIG_S_ACKNOWLEDGE, Driver = V.VIRTIO_CONFIG_S_DRIVER, DriverOk = V.VIRTIO_CONFIG_S_DRIVER_OK,
        FeaturesOk = V.VIRTIO_CONFIG_S_FEATURES_OK, NeedsReset = V.VIRTIO_CONFIG_S_NEEDS_RESET, Failed = V.VIRTIO_CONFIG_S_FAILED;

    /// <summary>Descriptor flags (§2.7.5).</summary>
    public const ushort DescNext = V.VRING_DESC_F_NEXT, DescWrite = V.VRING_DESC_F_WRITE, DescIndirect = V.VRING_DESC_F_INDIRECT;

    /// <summary>Ring flags: avail VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7).</summary>
    public const ushort AvailNoInterrupt = V.VRING_AVAIL_F_NO_INTERRUPT;

    /// <summary>MSI-X "no vector" (§4.1.5.1.2).</summary>
    public const ushort NoVector = V.VIRTIO_MSI_NO_VECTOR;

    /// <summary>struct virtio_net_hdr with VERSION_1: 12 bytes, num_buffers included (§5.1.6).</summary>
    public static readonly int NetHeaderLength = System.Runtime.CompilerServices.Unsafe.SizeOf<Abi.Linux.Virtio.virtio_net_hdr_v1>();
}
