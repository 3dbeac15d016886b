using System.Text.Json;
using Abi.Samples.L2fwd;

namespace Abi.Samples.Tests;

/// <summary>The l2fwd loop and app on the engine's bench.</summary>
public sealed class ForwardingTests
{
    [Fact]
    public void Forwarding_RewritesAddresses_AndEveryFrameReachesTheOtherGenerator()
    {
        EngineTestbed bench = EngineTestbed.Create(60, recycle: false);
        using PortSet set = PortSet.Open(bench.Kernel, bench.CdevPaths);
        var forwarder = new Forwarder(set.Ports, set.Pool, batch: 32, macUpdate: true);
        forwarder.Run(TimeSpan.FromSeconds(30), TimeSpan.Zero, packetLimit: 200_000);

        Assert.Null(forwarder.Failure);
        Assert.True(forwarder.Forwarded >= 200_000);
        for (int p = 0; p < 2; p++)
        {
            // What port p sent is what generator p received, each frame addressed to it by l2fwd's rewrite.
            Assert.Equal(forwarder.Counters[p].TxPackets, bench.Generators[p].Received);
            Assert.Equal(0, bench.Generators[p].Misaddressed);
            Assert.Equal(set.Ports[p].RxPackets, forwarder.Counters[p].RxPackets);
            Assert.Equal(bench.Generators[p].Sent, bench.Devices[p].RxPackets);
            Assert.InRange(bench.Devices[p].RxPackets - set.Ports[p].RxPackets, 0, 256);   // at most a ring's worth still waiting
            Assert.Equal(0, bench.Devices[p].Dma.Faults);

            // Everything port p received went out of the other port, none dropped, and (source half
            // of the rewrite) the frames generator p got carry port p's own address as source.
            Assert.Equal(0, forwarder.Counters[p].Drops);
            Assert.Equal(forwarder.Counters[p].RxPackets, forwarder.Counters[1 - p].TxPackets);
            Assert.Equal(set.Ports[p].Mac.ToArray(), bench.Generators[p].LastSource.ToArray());
        }
    }

    [Fact]
    public void SteadyState_AllocatesNothing_Over10MillionPackets()
    {
        EngineTestbed bench = EngineTestbed.Create(60, recycle: false);
        using PortSet set = PortSet.Open(bench.Kernel, bench.CdevPaths);
        var forwarder = new Forwarder(set.Ports, set.Pool, batch: 32, macUpdate: true);

        // Warm-up (tiered JIT settles) by time; then count until 10^7 more packets went through.
        forwarder.Run(TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(1), steadyStateLimit: 10_000_000);
        (long bytes, long packets) = forwarder.SteadyStateAllocation;
        Assert.True(packets >= 10_000_000);
        Assert.Equal(0, bytes);
    }

    [Fact]
    public void UnmappingAQueueWhileForwarding_CountsFaults_AndStopsCleanly()
    {
        EngineTestbed bench = EngineTestbed.Create(60, recycle: false);
        using PortSet set = PortSet.Open(bench.Kernel, bench.CdevPaths);
        var forwarder = new Forwarder(set.Ports, set.Pool, batch: 32, macUpdate: true);
        forwarder.Run(TimeSpan.FromSeconds(60), TimeSpan.Zero, TimeSpan.FromMilliseconds(200), () =>
        {
            (ulong iova, ulong length) = set.Ports[0].QueueMemory;
            set.Ioas.Unmap(iova, length);
        });

        Assert.NotNull(forwarder.Failure);
        Assert.Contains("DEVICE_NEEDS_RESET", forwarder.Failure, StringComparison.Ordinal);
        Assert.True(bench.Devices[0].Dma.Faults > 0);
        Assert.Equal(0, bench.Devices[1].Dma.Faults);
        Assert.True(forwarder.Elapsed < TimeSpan.FromSeconds(60));      // it stopped on the failure, not at the end
    }
}

/// <summary>The app end to end: CLI options in, the JSON summary line out. Console output is process-wide, so these run alone.</summary>
[Collection(nameof(ConsoleCollection))]
public sealed class ForwardingAppTests
{
    [Fact]
    public void App_OnTheEngine_PrintsAnOkSummary()
    {
        (int code, JsonElement summary) = RunApp(["--duration", "1", "--no-live", "--batch", "8"]);
        Assert.Equal(0, code);
        Assert.Equal("engine", summary.GetProperty("backend").GetString());
        Assert.Equal("ok", summary.GetProperty("status").GetString());
        Assert.Equal(8, summary.GetProperty("batch").GetInt32());
        Assert.True(summary.GetProperty("packets").GetInt64() > 0);
        Assert.Equal(0, summary.GetProperty("iommu_faults").GetInt64());
        Assert.True(summary.GetProperty("metered_kicks").GetInt64() > 0);       // the devices' doorbells, each timed
        Assert.True(summary.GetProperty("clock_read_ns").GetDouble() > 0);
    }

    [Fact]
    public void App_WithAFault_ExitsWithDeviceFailed_AndSaysWhy()
    {
        (int code, JsonElement summary, string output) = RunAppWithOutput(["--duration", "30", "--no-live", "--fault-after", "0.3"]);
        Assert.Equal(ForwardingApp.DeviceFailed, code);
        Assert.Equal("device-failed", summary.GetProperty("status").GetString());
        Assert.True(summary.GetProperty("iommu_faults").GetInt64() > 0);
        Assert.Contains("refused by the IOMMU", output, StringComparison.Ordinal);
        Assert.Contains("stopped cleanly", output, StringComparison.Ordinal);
    }

    [Fact]
    public void App_KernelBackend_WithoutDevices_IsRefusedPlainly()
    {
        (int code, _, string output) = RunAppWithOutput(["--backend", "kernel"], expectSummary: false);
        Assert.Equal(2, code);
        Assert.Contains("--devices", output, StringComparison.Ordinal);
    }

    [Fact]
    public void App_KernelBackend_WithAnAddressThatIsNotVfio_SaysWhatToDo()
    {
        (int code, _, string output) = RunAppWithOutput(["--backend", "kernel", "--devices", "0000:7f:1f.7", "0000:7f:1f.6"], expectSummary: false);
        Assert.Equal(1, code);
        Assert.Contains("0000:7f:1f.7: no such PCI function", output, StringComparison.Ordinal);

        // A function this machine has, with its own driver (or none): what to do about it.
        string real = Path.GetFileName(Directory.GetFileSystemEntries("/sys/bus/pci/devices").Order(StringComparer.Ordinal).First());
        (code, _, output) = RunAppWithOutput(["--backend", "kernel", "--devices", real, real], expectSummary: false);
        Assert.Equal(1, code);
        Assert.Contains("bind it to vfio-pci", output, StringComparison.Ordinal);
    }

    private static (int Code, JsonElement Summary) RunApp(string[] args)
    {
        (int code, JsonElement summary, _) = RunAppWithOutput(args);
        return (code, summary);
    }

    private static (int Code, JsonElement Summary, string Output) RunAppWithOutput(string[] args, bool expectSummary = true)
    {
        TextWriter stdout = Console.Out, stderr = Console.Error;
        var capture = new StringWriter();
        Console.SetOut(capture);
        Console.SetError(capture);
        int code;
        try
        {
            code = Program.Main(args);
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }

        string output = capture.ToString();
        string last = output.TrimEnd().Split('\n')[^1];
        return (code, expectSummary ? JsonDocument.Parse(last).RootElement.Clone() : default, output);
    }
}

[CollectionDefinition(nameof(ConsoleCollection), DisableParallelization = true)]
public sealed class ConsoleCollection
{
}
