using System.CommandLine;

namespace Abi.Samples.L2fwd;

/// <summary>l2fwd: forwarding between two virtio-net ports with the C# poll-mode driver.</summary>
public static class Program
{
    /// <summary>Parses the command line and runs <see cref="ForwardingApp"/>.</summary>
    public static int Main(string[] args)
    {
        var backend = new Option<string>("--backend") { Description = "engine (in-process devices, the default) or kernel (real vfio-pci devices)", DefaultValueFactory = _ => "engine" };
        backend.AcceptOnlyFromAmong("engine", "kernel");
        var devices = new Option<string[]>("--devices") { Description = "kernel backend: two VFIO cdev paths or PCI addresses", AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int>("--batch") { Description = "packets per burst", DefaultValueFactory = _ => 32 };
        var packetSize = new Option<int>("--pkt-size") { Description = "packet size with FCS, 64-1518 (frames are 4 bytes shorter)", DefaultValueFactory = _ => 64 };
        var duration = new Option<double>("--duration") { Description = "seconds to forward", DefaultValueFactory = _ => 5 };
        var noLive = new Option<bool>("--no-live") { Description = "one plain line per second instead of the live table" };
        var faultAfter = new Option<double?>("--fault-after") { Description = "after this many seconds, unmap port 0's queue memory from the IOAS (shows IOMMU fault handling)" };
        var recycle = new Option<bool>("--recycle") { Description = "engine: devices return descriptors at once without touching packet data (measures the driver alone)" };
        var noMacUpdate = new Option<bool>("--no-mac-updating") { Description = "forward frames unchanged" };

        var root = new RootCommand("Forwards packets between two virtio-net ports with a C# poll-mode driver over VFIO.")
        {
            backend, devices, batch, packetSize, duration, noLive, faultAfter, recycle, noMacUpdate,
        };
        root.SetAction(result =>
        {
            var options = new ForwardingOptions(
                result.GetValue(backend)!,
                result.GetValue(devices) ?? [],
                result.GetValue(batch),
                result.GetValue(packetSize),
                TimeSpan.FromSeconds(result.GetValue(duration)),
                !result.GetValue(noLive),
                result.GetValue(faultAfter) is double f ? TimeSpan.FromSeconds(f) : null,
                result.GetValue(recycle),
                !result.GetValue(noMacUpdate));
            return ForwardingApp.Run(options);
        });

        return root.Parse(args).Invoke();
    }
}
