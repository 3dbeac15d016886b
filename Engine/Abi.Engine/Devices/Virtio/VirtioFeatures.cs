
namespace Abi.Engine.Devices.Virtio;

/// <summary>The feature bits and status bits the engine's virtio-net uses (virtio 1.x §2.1, §5.1.3, §6).</summary>
internal static class VirtioFeatures
{
    public const ulong NetMac = 1UL << 5;
    public const ulong Version1 = 1UL << 32;
    public const ulong AccessPlatform = 1UL << 33;

    /// <summary>What the device offers: no offloads, no control queue, no event index, no indirect descriptors.</summary>
    public const ulong Offered = NetMac | Version1 | AccessPlatform;

    public const byte Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8, NeedsReset = 64, Failed = 128;

    /// <summary>Descriptor flags (§2.7.5).</summary>
    public const ushort DescNext = 1, DescWrite = 2, DescIndirect = 4;

    /// <summary>Ring flags: avail VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7).</summary>
    public const ushort AvailNoInterrupt = 1;

    /// <summary>MSI-X "no vector" (§4.1.5.1.2).</summary>
    public const ushort NoVector = 0xFFFF;

    /// <summary>struct virtio_net_hdr with VERSION_1: 12 bytes, num_buffers included (§5.1.6).</summary>
    public const int NetHeaderLength = 12;
}
