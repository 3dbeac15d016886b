
namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// A cable between two emulated NICs: what one transmits arrives at the other at once, into its
/// next receive buffer, or is dropped (and counted as missed there) when the driver gave it none,
/// as on a real link. The two devices share one lock from then on, so traffic in both directions
/// from two driver threads cannot deadlock.
/// </summary>
public static class EthernetWire
{
    /// <summary>Joins <paramref name="a"/> and <paramref name="b"/> back to back.</summary>
    public static void Connect(VirtioNetDevice a, VirtioNetDevice b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a == b)
        {
            throw new ArgumentException("a device cannot be wired to itself", nameof(b));
        }

        var shared = new Lock();
        a.Attach(new End(b), shared);
        b.Attach(new End(a), shared);
    }

    private sealed class End(VirtioNetDevice other) : IEthernetPeer
    {
        public void Receive(ReadOnlySpan<byte> frame) => other.Deliver(frame);

        public bool TryGetFrame(out ReadOnlySpan<byte> frame)
        {
            frame = default;
            return false;
        }
    }
}
