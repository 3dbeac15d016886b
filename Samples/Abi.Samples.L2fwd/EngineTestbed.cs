using Abi.Engine;
using Abi.Engine.Devices.Virtio;

namespace Abi.Samples.L2fwd;

/// <summary>
/// The lab bench on the engine: two emulated virtio-net devices, each cabled to a pktgen-style
/// generator that fills every receive buffer the driver posts and counts what comes back.
/// Generator p has MAC 02:00:00:00:00:0p, which is where l2fwd addresses frames leaving port p.
/// </summary>
public sealed class EngineTestbed
{
    private EngineTestbed(EmulatedKernel kernel, VirtioNetDevice[] devices, PacketGenerator[] generators, string[] cdevPaths)
    {
        Kernel = kernel;
        Devices = devices;
        Generators = generators;
        CdevPaths = cdevPaths;
    }

    public EmulatedKernel Kernel { get; }

    public IReadOnlyList<VirtioNetDevice> Devices { get; }

    public IReadOnlyList<PacketGenerator> Generators { get; }

    public IReadOnlyList<string> CdevPaths { get; }

    /// <summary>Builds the bench with frames of <paramref name="frameLength"/> bytes.</summary>
    public static EngineTestbed Create(int frameLength, bool recycle)
    {
        var kernel = new EmulatedKernel();
        var devices = new VirtioNetDevice[2];
        var generators = new PacketGenerator[2];
        string[] paths = new string[2];
        for (int p = 0; p < 2; p++)
        {
            byte[] deviceMac = [0x52, 0x54, 0x00, 0x12, 0x34, (byte)(0x56 + p)];
            byte[] generatorMac = [0x02, 0, 0, 0, 0, (byte)p];
            devices[p] = new VirtioNetDevice(deviceMac) { RecycleDescriptors = recycle, RecycleFrameLength = frameLength };
            generators[p] = new PacketGenerator(frameLength, generatorMac, deviceMac);
            devices[p].Connect(generators[p]);
            paths[p] = kernel.AddDevice(devices[p]).CdevPath!;
        }

        return new EngineTestbed(kernel, devices, generators, paths);
    }
}
