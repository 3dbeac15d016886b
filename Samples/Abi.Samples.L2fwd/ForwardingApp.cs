using Abi.Interop;
using Abi.Runtime;
using Abi.Runtime.Kernel;

namespace Abi.Samples.L2fwd;

/// <summary>Sets up the ports for the chosen backend, runs the poll loop on its own thread, shows stats, prints the summary.</summary>
public static class ForwardingApp
{
    /// <summary>Exit code when a device failed (after a clean stop).</summary>
    public const int DeviceFailed = 3;

    public static int Run(ForwardingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Batch is < 1 or > 256 || options.PacketSize is < 64 or > 1518 || options.Duration <= TimeSpan.Zero)
        {
            Console.Error.WriteLine("l2fwd: --batch must be 1-256, --pkt-size 64-1518, --duration positive");
            return 2;
        }

        int frameLength = options.PacketSize - 4;
        EngineTestbed? bench = null;
        IKernel kernel;
        IReadOnlyList<string> paths;
        if (options.Backend == "engine")
        {
            bench = EngineTestbed.Create(frameLength, options.Recycle);
            kernel = bench.Kernel;
            paths = bench.CdevPaths;
        }
        else
        {
            if (options.Devices.Count != 2 || options.Recycle)
            {
                Console.Error.WriteLine("l2fwd: the kernel backend needs --devices with two cdev paths or PCI addresses (and no --recycle)");
                return 2;
            }

            kernel = Backend.Create("kernel");
            paths = options.Devices;
        }

        PortSet ports;
        try
        {
            ports = PortSet.Open(kernel, paths.Select(p => DevicePath.Resolve(p, kernel)).ToArray());
        }
        catch (Exception e) when (e is IoctlException or SyscallException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            Console.Error.WriteLine($"l2fwd: cannot open the ports: {e.Message}");
            return 1;
        }

        using (ports)
        {
            Func<int, long>? faults = bench is null ? null : p => bench.Devices[p].Dma.Faults;
            var forwarder = new Forwarder(ports.Ports, ports.Pool, options.Batch, options.MacUpdate);
            using var metrics = new ForwardingMetrics(forwarder.Counters, faults);
            Console.WriteLine($"l2fwd on the {kernel.Name} backend: {string.Join(", ", ports.Ports.Select((p, i) => $"port {i} {p.Name} {Convert.ToHexString(p.Mac)}"))}; batch {options.Batch}, {options.PacketSize}-byte packets, {options.Duration.TotalSeconds:0.#} s");

            string? faultNote = null;
            var done = new TaskCompletionSource();
            var thread = new Thread(() =>
            {
                try
                {
                    forwarder.Run(options.Duration, TimeSpan.FromSeconds(Math.Min(1, options.Duration.TotalSeconds / 5)), options.FaultAfter, () =>
                    {
                        (ulong iova, ulong length) = ports.Ports[0].QueueMemory;
                        ports.Ioas.Unmap(iova, length);
                        faultNote = $"unmapped port 0's queue memory (IOVA 0x{iova:X}, {length} bytes) on purpose";
                    });
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            })
            { Name = "l2fwd poll", IsBackground = true };
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                forwarder.Stop();
            };
            thread.Start();
            new StatsView(forwarder.Counters, faults, options.PacketSize).Run(done.Task, options.Live);
            done.Task.GetAwaiter().GetResult();

            if (faultNote is not null)
            {
                Console.WriteLine($"l2fwd: {faultNote}");
            }

            if (forwarder.Failure is string failure)
            {
                string detail = bench is null ? string.Empty : $" ({bench.Devices.Select((d, p) => d.Error is null ? null : $"port {p}: {d.Error}; IOMMU faults: {d.Dma.Faults}").FirstOrDefault(s => s is not null)})";
                Console.WriteLine($"l2fwd: {failure}{detail}; stopped cleanly");
            }

            var summary = new Summary(
                kernel.Name,
                forwarder.Failure is null ? "ok" : "device-failed",
                options.Batch,
                options.PacketSize,
                forwarder.Elapsed.TotalSeconds,
                forwarder.Forwarded,
                forwarder.Counters.Sum(c => c.Drops) + ports.Ports.Sum(p => p.RxErrors) + (bench?.Devices.Sum(d => d.RxMissed) ?? 0),
                bench?.Devices.Sum(d => d.Dma.Faults),
                forwarder.SteadyStateAllocation.Bytes,
                forwarder.SteadyStateAllocation.Packets,
                bench?.Devices.Sum(d => d.DeviceTicks),
                bench?.Devices.Sum(d => d.MeteredKicks),
                bench is null ? 0 : ClockReadCost.MeasureTicks());
            Console.WriteLine(summary.ToJson());
            return forwarder.Failure is null ? 0 : DeviceFailed;
        }
    }
}
