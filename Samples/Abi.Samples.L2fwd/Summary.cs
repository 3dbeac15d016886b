using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Abi.Samples.L2fwd;

/// <summary>The run's closing figures, printed as one JSON line for scripts.</summary>
public sealed record Summary(
    string Backend,
    string Status,
    int Batch,
    int PacketSize,
    double Seconds,
    long Packets,
    long Drops,
    long? Faults,
    long SteadyStateBytes,
    long SteadyStatePackets,
    long? DeviceTicks,
    long? MeteredKicks = null,
    double ClockReadTicks = 0)
{
    public double Mpps => Packets / Seconds / 1e6;

    public double Gbps => Packets * (double)PacketSize * 8 / Seconds / 1e9;

    /// <summary>Nanoseconds of poll-loop time per forwarded packet, all included.</summary>
    public double NanosecondsPerPacket => Packets == 0 ? 0 : Seconds * 1e9 / Packets;

    /// <summary>
    /// The same without the time spent inside the engine's device models (engine only), and without
    /// the device meter's own clock reads on the driver's side (<see cref="MeterNanosecondsPerPacket"/>).
    /// </summary>
    public double? DriverNanosecondsPerPacket => DeviceTicks is long ticks && Packets > 0
        ? (Seconds - ((ticks + MeterTicks) / (double)Stopwatch.Frequency)) * 1e9 / Packets
        : null;

    /// <summary>What the device meter's clock reads cost the driver's side per packet: one read per doorbell (see <see cref="ClockReadCost"/>).</summary>
    public double? MeterNanosecondsPerPacket => DeviceTicks is not null && Packets > 0
        ? MeterTicks / (double)Stopwatch.Frequency * 1e9 / Packets
        : null;

    private double MeterTicks => (MeteredKicks ?? 0) * ClockReadTicks;

    /// <summary>The nominal clock from /proc/cpuinfo, to turn nanoseconds into cycles (0 when unknown).</summary>
    public static double CpuMegahertz { get; } = ReadCpuMegahertz();

    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("backend", Backend);
            json.WriteString("status", Status);
            json.WriteNumber("batch", Batch);
            json.WriteNumber("pkt_size", PacketSize);
            json.WriteNumber("seconds", Math.Round(Seconds, 3));
            json.WriteNumber("packets", Packets);
            json.WriteNumber("mpps", Math.Round(Mpps, 3));
            json.WriteNumber("gbps", Math.Round(Gbps, 3));
            json.WriteNumber("drops", Drops);
            if (Faults is long faults)
            {
                json.WriteNumber("iommu_faults", faults);
            }
            else
            {
                json.WriteNull("iommu_faults");
            }

            json.WriteNumber("ns_per_packet", Math.Round(NanosecondsPerPacket, 2));
            if (DriverNanosecondsPerPacket is double driver)
            {
                json.WriteNumber("driver_ns_per_packet", Math.Round(driver, 2));
                json.WriteNumber("meter_ns_per_packet", Math.Round(MeterNanosecondsPerPacket!.Value, 2));
                if (CpuMegahertz > 0)
                {
                    json.WriteNumber("driver_cycles_per_packet", Math.Round(driver * CpuMegahertz / 1000, 1));
                    json.WriteNumber("meter_cycles_per_packet", Math.Round(MeterNanosecondsPerPacket!.Value * CpuMegahertz / 1000, 1));
                }
            }

            if (MeteredKicks is long kicks)
            {
                json.WriteNumber("metered_kicks", kicks);
                json.WriteNumber("clock_read_ns", Math.Round(ClockReadTicks / Stopwatch.Frequency * 1e9, 1));
            }

            json.WriteNumber("cpu_mhz", CpuMegahertz);
            json.WriteNumber("steady_alloc_bytes", SteadyStateBytes);
            json.WriteNumber("steady_packets", SteadyStatePackets);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static double ReadCpuMegahertz()
    {
        try
        {
            string? line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("cpu MHz", StringComparison.Ordinal));
            return line is not null && double.TryParse(line[(line.IndexOf(':') + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double mhz) ? mhz : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
