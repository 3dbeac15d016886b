
namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// What sits at the other end of an emulated NIC's cable: another NIC (<see cref="EthernetWire"/>)
/// or a traffic source and sink (<see cref="PacketGenerator"/>). Both calls come from the device
/// while it works on a doorbell, on the driver's thread; neither may block.
/// </summary>
public interface IEthernetPeer
{
    /// <summary>A frame the device transmitted (Ethernet header onward, no virtio header). Valid only during the call.</summary>
    void Receive(ReadOnlySpan<byte> frame);

    /// <summary>The device has receive buffers: the peer may hand it the next frame now. The span must stay valid until the next call.</summary>
    bool TryGetFrame(out ReadOnlySpan<byte> frame);
}
