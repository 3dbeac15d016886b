using System.Diagnostics;
using System.Text.Json;
using Abi.Samples.L2fwd;

namespace Abi.Samples.Tests;

/// <summary>The summary's split of the loop's time between the device models, their meter and the driver.</summary>
public sealed class SummaryTests
{
    [Fact]
    public void DriverTime_IsTheLoopLessTheDevices_LessOneClockReadPerDoorbell()
    {
        // One second, a million packets: 1,000 ns each. The devices took 600 ms in 50,000 timed doorbells,
        // and a clock read costs 1 µs of ticks: 50 ms of meter on the driver's side, 50 ns a packet.
        long frequency = Stopwatch.Frequency;
        var summary = new Summary("engine", "ok", 32, 64, 1.0, 1_000_000, 0, 0, 0, 0,
            DeviceTicks: frequency * 6 / 10, MeteredKicks: 50_000, ClockReadTicks: frequency / 1e6);

        Assert.Equal(1000, summary.NanosecondsPerPacket, 6);
        Assert.Equal(50, summary.MeterNanosecondsPerPacket!.Value, 6);
        Assert.Equal(1000 - 600 - 50, summary.DriverNanosecondsPerPacket!.Value, 6);

        using JsonDocument json = JsonDocument.Parse(summary.ToJson());
        Assert.Equal(350, json.RootElement.GetProperty("driver_ns_per_packet").GetDouble());
        Assert.Equal(50, json.RootElement.GetProperty("meter_ns_per_packet").GetDouble());
        Assert.Equal(50_000, json.RootElement.GetProperty("metered_kicks").GetInt64());
        Assert.Equal(1000, json.RootElement.GetProperty("clock_read_ns").GetDouble());
    }

    [Fact]
    public void OnTheKernel_ThereIsNoDriverSplit()
    {
        var summary = new Summary("kernel", "ok", 32, 64, 1.0, 1_000_000, 0, null, 0, 0, DeviceTicks: null);

        Assert.Null(summary.DriverNanosecondsPerPacket);
        Assert.Null(summary.MeterNanosecondsPerPacket);
        using JsonDocument json = JsonDocument.Parse(summary.ToJson());
        Assert.False(json.RootElement.TryGetProperty("driver_ns_per_packet", out _));
        Assert.False(json.RootElement.TryGetProperty("metered_kicks", out _));
    }
}
