using System.Diagnostics;
using System.Runtime.CompilerServices;
using Abi.Samples.VirtioNet;

namespace Abi.Samples.L2fwd;

/// <summary>
/// The poll loop: receive a burst on one port, optionally rewrite MAC addresses, send it out of
/// the other, free what did not fit; then the other direction. One thread, no locks, no
/// allocation per packet. Now and then (every 2^12 rounds) it looks at the clock, the stop flag
/// and, once a second, whether a device asked for a reset.
/// </summary>
public sealed class Forwarder(IReadOnlyList<VirtioNetPort> ports, MbufPool pool, int batch, bool macUpdate)
{
    private const int MacHeaderLength = 12;
    private readonly Mbuf[] _burst = new Mbuf[batch];

    // What the MAC update writes for frames leaving each port, as DPDK's l2fwd does: destination
    // 02:00:00:00:00:<port>, then the output port's own address; 12 bytes, stored as 8 + 4.
    private readonly (ulong First, uint Last)[] _macHeaders = [.. Enumerable.Range(0, ports.Count).Select(p => MacHeader(p, ports[p].Mac))];
    private volatile bool _stop;

    /// <summary>Per-port counters (the port's receive side counts its RX, the sending port its TX).</summary>
    public PortCounters[] Counters { get; } = [new(), new()];

    /// <summary>Why forwarding stopped early (a device failed), or null.</summary>
    public string? Failure { get; private set; }

    /// <summary>Wall time of the loop.</summary>
    public TimeSpan Elapsed { get; private set; }

    /// <summary>Bytes the loop allocated after the warm-up, and packets forwarded in that window.</summary>
    public (long Bytes, long Packets) SteadyStateAllocation { get; private set; }

    /// <summary>Asks the loop to finish its round and return.</summary>
    public void Stop() => _stop = true;

    /// <summary>Forwards until <paramref name="duration"/> passes, the packet limit is reached, <see cref="Stop"/> is called, or a device fails.</summary>
    /// <param name="duration">How long to run.</param>
    /// <param name="warmUp">How long before allocation is measured (JIT tiering settles meanwhile).</param>
    /// <param name="faultAfter">When to call <paramref name="injectFault"/>, if ever.</param>
    /// <param name="injectFault">What breaks the setup on purpose.</param>
    /// <param name="packetLimit">Stop once this many packets were forwarded (0: no limit).</param>
    /// <param name="steadyStateLimit">Stop once this many packets were forwarded after the warm-up (0: no limit).</param>
    public void Run(TimeSpan duration, TimeSpan warmUp, TimeSpan? faultAfter = null, Action? injectFault = null, long packetLimit = 0, long steadyStateLimit = 0)
    {
        long start = Stopwatch.GetTimestamp();
        long end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        long warm = start + (long)(warmUp.TotalSeconds * Stopwatch.Frequency);
        long fault = faultAfter is TimeSpan f ? start + (long)(f.TotalSeconds * Stopwatch.Frequency) : long.MaxValue;
        long nextHealthCheck = start + Stopwatch.Frequency;
        long allocatedAtWarm = -1, packetsAtWarm = 0;
        for (long round = 1; ; round++)
        {
            Forward(0, 1);
            Forward(1, 0);
            if ((round & 0xFFF) != 0)
            {
                continue;
            }

            long now = Stopwatch.GetTimestamp();
            if (allocatedAtWarm < 0 && now >= warm)
            {
                allocatedAtWarm = GC.GetAllocatedBytesForCurrentThread();
                packetsAtWarm = Forwarded;
            }

            if (now >= fault)
            {
                fault = long.MaxValue;
                injectFault?.Invoke();
            }

            if (now >= nextHealthCheck)
            {
                nextHealthCheck = now + Stopwatch.Frequency;
                if (CheckDevices())
                {
                    break;
                }
            }

            long forwarded = Forwarded;
            if (_stop || now >= end || (packetLimit > 0 && forwarded >= packetLimit)
                || (steadyStateLimit > 0 && allocatedAtWarm >= 0 && forwarded - packetsAtWarm >= steadyStateLimit))
            {
                break;
            }
        }

        Elapsed = Stopwatch.GetElapsedTime(start);
        if (allocatedAtWarm >= 0)
        {
            SteadyStateAllocation = (GC.GetAllocatedBytesForCurrentThread() - allocatedAtWarm, Forwarded - packetsAtWarm);
        }

        CheckDevices();
    }

    /// <summary>Packets sent out of either port.</summary>
    public long Forwarded => Counters[0].TxPackets + Counters[1].TxPackets;

    private void Forward(int from, int to)
    {
        Span<Mbuf> burst = _burst;
        int n = ports[from].RxBurst(burst);
        if (n == 0)
        {
            return;
        }

        VirtioNetPort output = ports[to];
        if (macUpdate)
        {
            (ulong first, uint last) = _macHeaders[to];
            for (int i = 0; i < n; i++)
            {
                Mbuf mbuf = burst[i];
                if (mbuf.Length >= MacHeaderLength)         // a runt keeps its bytes: there is no header to rewrite
                {
                    ref byte frame = ref pool.FrameStart(mbuf.Index);
                    Unsafe.WriteUnaligned(ref frame, first);
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref frame, 8), last);
                }
            }
        }

        long bytesBefore = output.TxBytes;          // the port counts bytes already; no second pass over the burst
        int sent = output.TxBurst(burst[..n]);
        if (sent < n)
        {
            pool.Free(burst[sent..n]);
        }

        Counters[from].Received(n);
        Counters[to].Sent(sent, output.TxBytes - bytesBefore, n - sent);
    }

    private static (ulong First, uint Last) MacHeader(int port, ReadOnlySpan<byte> source)
    {
        Span<byte> header = stackalloc byte[MacHeaderLength];
        header[0] = 0x02;
        header[5] = (byte)port;
        source.CopyTo(header[6..]);
        return (Unsafe.ReadUnaligned<ulong>(ref header[0]), Unsafe.ReadUnaligned<uint>(ref header[8]));
    }

    private bool CheckDevices()
    {
        for (int p = 0; p < ports.Count; p++)
        {
            if (ports[p].NeedsReset)
            {
                Failure ??= $"port {p} ({ports[p].Name}) stopped: the device set DEVICE_NEEDS_RESET";
                return true;
            }
        }

        return false;
    }
}
