using System.Diagnostics.Metrics;

namespace Abi.Samples.L2fwd;

/// <summary>
/// The counters as System.Diagnostics.Metrics instruments, so <c>dotnet-counters monitor -n l2fwd
/// --counters Abi.L2fwd</c> can watch them. They are observable: read when a listener collects,
/// never touched by the poll loop.
/// </summary>
public sealed class ForwardingMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Abi.L2fwd";

    private readonly Meter _meter = new(MeterName);

    public ForwardingMetrics(IReadOnlyList<PortCounters> counters, Func<int, long>? faults)
    {
        _meter.CreateObservableCounter("l2fwd.rx.packets", () => PerPort(counters, c => c.RxPackets), "{packet}", "Frames received");
        _meter.CreateObservableCounter("l2fwd.tx.packets", () => PerPort(counters, c => c.TxPackets), "{packet}", "Frames sent");
        _meter.CreateObservableCounter("l2fwd.tx.bytes", () => PerPort(counters, c => c.TxBytes), "By", "Frame bytes sent");
        _meter.CreateObservableCounter("l2fwd.drops", () => PerPort(counters, c => c.Drops), "{packet}", "Frames received but not sent");
        if (faults is not null)
        {
            _meter.CreateObservableCounter("l2fwd.iommu.faults", () => Enumerable.Range(0, counters.Count).Select(p => new Measurement<long>(faults(p), new KeyValuePair<string, object?>("port", p))), "{fault}", "DMA accesses the IOMMU refused");
        }
    }

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<Measurement<long>> PerPort(IReadOnlyList<PortCounters> counters, Func<PortCounters, long> read) =>
        counters.Select((c, p) => new Measurement<long>(read(c), new KeyValuePair<string, object?>("port", p)));
}
