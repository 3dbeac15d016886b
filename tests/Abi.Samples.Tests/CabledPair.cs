using Abi.Engine;
using Abi.Engine.Devices.Virtio;
using Abi.Samples.L2fwd;

namespace Abi.Samples.Tests;

/// <summary>Two virtio-net functions on one engine, cabled to each other, opened as ports 0 and 1 with 1,024 mbufs.</summary>
internal static class CabledPair
{
    /// <summary>Port 0's address.</summary>
    public static readonly byte[] MacA = [0x52, 0x54, 0, 0, 0, 0xA];

    /// <summary>Port 1's address.</summary>
    public static readonly byte[] MacB = [0x52, 0x54, 0, 0, 0, 0xB];

    public static PortSet Open(out VirtioNetDevice a, out VirtioNetDevice b)
    {
        var kernel = new EmulatedKernel();
        a = new VirtioNetDevice(MacA);
        b = new VirtioNetDevice(MacB);
        EthernetWire.Connect(a, b);
        return PortSet.Open(kernel, [kernel.AddDevice(a).CdevPath!, kernel.AddDevice(b).CdevPath!], mbufs: 1024);
    }
}
