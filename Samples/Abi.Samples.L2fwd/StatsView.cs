using System.Globalization;
using Spectre.Console;

namespace Abi.Samples.L2fwd;

/// <summary>
/// The once-a-second view: Mpps and Gbit/s per port, drops and IOMMU faults. A live Spectre.Console
/// table on a terminal, one plain line per second otherwise (logs, CI). It runs on the main thread;
/// the poll loop never waits for it.
/// </summary>
public sealed class StatsView(IReadOnlyList<PortCounters> counters, Func<int, long>? faults, int packetSize)
{
    private readonly long[] _lastRx = new long[counters.Count], _lastTx = new long[counters.Count];
    private long _lastTicks = Environment.TickCount64;

    /// <summary>Shows figures every second until <paramref name="done"/> completes.</summary>
    public void Run(Task done, bool live)
    {
        ArgumentNullException.ThrowIfNull(done);
        if (live && AnsiConsole.Profile.Capabilities.Interactive)
        {
            AnsiConsole.Live(Table()).Start(context =>
            {
                while (!done.Wait(1000))
                {
                    context.UpdateTarget(Table());
                }
            });
            return;
        }

        int second = 0;
        while (!done.Wait(1000))
        {
            Console.WriteLine(Line(++second));
        }
    }

    private (double Mpps, double Gbps, double RxMpps)[] Sample()
    {
        long now = Environment.TickCount64;
        double seconds = Math.Max(1, now - _lastTicks) / 1000.0;
        _lastTicks = now;
        var rates = new (double, double, double)[counters.Count];
        for (int p = 0; p < counters.Count; p++)
        {
            long rx = counters[p].RxPackets, tx = counters[p].TxPackets;
            double txRate = (tx - _lastTx[p]) / seconds;
            rates[p] = (txRate / 1e6, txRate * packetSize * 8 / 1e9, (rx - _lastRx[p]) / seconds / 1e6);
            _lastRx[p] = rx;
            _lastTx[p] = tx;
        }

        return rates;
    }

    private Table Table()
    {
        var table = new Table().Title("l2fwd").AddColumns("port", "rx Mpps", "tx Mpps", "tx Gbit/s", "drops", "IOMMU faults");
        var rates = Sample();
        for (int p = 0; p < counters.Count; p++)
        {
            table.AddRow(
                p.ToString(CultureInfo.InvariantCulture),
                rates[p].RxMpps.ToString("F3", CultureInfo.InvariantCulture),
                rates[p].Mpps.ToString("F3", CultureInfo.InvariantCulture),
                rates[p].Gbps.ToString("F3", CultureInfo.InvariantCulture),
                counters[p].Drops.ToString(CultureInfo.InvariantCulture),
                faults is null ? "n/a" : faults(p).ToString(CultureInfo.InvariantCulture));
        }

        return table;
    }

    private string Line(int second)
    {
        var rates = Sample();
        var parts = Enumerable.Range(0, counters.Count).Select(p => string.Create(
            CultureInfo.InvariantCulture,
            $"port {p}: rx {rates[p].RxMpps:F3} Mpps, tx {rates[p].Mpps:F3} Mpps {rates[p].Gbps:F3} Gbit/s, drops {counters[p].Drops}, faults {(faults is null ? "n/a" : faults(p).ToString(CultureInfo.InvariantCulture))}"));
        return $"[{second,3} s] {string.Join(" | ", parts)}";
    }
}
