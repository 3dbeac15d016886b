namespace Abi.Samples.L2fwd;

/// <summary>What the command line asked for.</summary>
/// <param name="Backend">engine or kernel.</param>
/// <param name="Devices">Two cdev paths or PCI addresses (kernel backend); ignored on the engine, which makes its own.</param>
/// <param name="Batch">Packets per burst.</param>
/// <param name="PacketSize">Packet size with the 4-byte FCS, as traffic generators count it (64 = 60-byte frames).</param>
/// <param name="Duration">How long to forward.</param>
/// <param name="Live">Whether to draw the live table (else one plain line per second).</param>
/// <param name="FaultAfter">If set, unmap port 0's queue memory after this long, to show IOMMU fault handling.</param>
/// <param name="Recycle">Engine only: devices hand descriptors back at once, so the driver's own cost shows.</param>
/// <param name="MacUpdate">Rewrite MAC addresses as DPDK's l2fwd does (destination 02:00:00:00:00:port, source the port's MAC).</param>
public sealed record ForwardingOptions(
    string Backend,
    IReadOnlyList<string> Devices,
    int Batch,
    int PacketSize,
    TimeSpan Duration,
    bool Live,
    TimeSpan? FaultAfter,
    bool Recycle,
    bool MacUpdate);
