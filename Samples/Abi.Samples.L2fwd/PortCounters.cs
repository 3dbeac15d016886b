namespace Abi.Samples.L2fwd;

/// <summary>
/// Per-port figures the poll thread writes and the display and metrics read. One writer, readers
/// that tolerate a value a moment old: plain 64-bit stores, volatile loads, nothing on the data
/// path synchronises.
/// </summary>
public sealed class PortCounters
{
    private long _rxPackets, _txPackets, _txBytes, _drops;

    /// <summary>Frames received on the port.</summary>
    public long RxPackets => Volatile.Read(ref _rxPackets);

    /// <summary>Frames sent out of the port.</summary>
    public long TxPackets => Volatile.Read(ref _txPackets);

    /// <summary>Bytes of those frames.</summary>
    public long TxBytes => Volatile.Read(ref _txBytes);

    /// <summary>Frames meant for this port that its full transmit ring refused.</summary>
    public long Drops => Volatile.Read(ref _drops);

    internal void Received(int packets) => _rxPackets += packets;

    internal void Sent(int packets, long bytes, int dropped)
    {
        _txPackets += packets;
        _txBytes += bytes;
        _drops += dropped;
    }
}
