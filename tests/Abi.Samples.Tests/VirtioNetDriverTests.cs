using System.Buffers.Binary;
using Abi.Engine;
using Abi.Engine.Devices.Virtio;
using Abi.Engine.Iommufd;
using Abi.Linux;
using Abi.Runtime.Vfio;
using Abi.Samples.L2fwd;
using Abi.Samples.VirtioNet;

namespace Abi.Samples.Tests;

/// <summary>The C# virtio-net driver against the engine's virtio-net device: initialisation, both data paths, faults.</summary>
public sealed class VirtioNetDriverTests
{
    private static readonly byte[] s_macA = CabledPair.MacA, s_macB = CabledPair.MacB;

    [Fact]
    public void BackToBack_FramesSentOnOnePortArriveIntactOnTheOther()
    {
        using PortSet set = CabledPair.Open(out VirtioNetDevice a, out VirtioNetDevice b);
        VirtioNetPort sender = set.Ports[0], receiver = set.Ports[1];
        Assert.Equal(s_macA, sender.Mac.ToArray());
        Assert.Equal(s_macB, receiver.Mac.ToArray());

        // 300 frames of varying length and content: more than one ring's worth, so descriptors are reclaimed and reused.
        var sent = new List<byte[]>();
        var received = new List<byte[]>();
        Span<Mbuf> burst = stackalloc Mbuf[32];
        var random = new Random(7);
        for (int round = 0; round < 10; round++)
        {
            for (int i = 0; i < 30; i++)
            {
                Assert.True(set.Pool.Buffers.TryRent(out int index));
                int length = random.Next(60, VirtioNetDevice.MaxFrameLength + 1);
                Span<byte> frame = set.Pool.Room(index)[..length];
                random.NextBytes(frame);
                sent.Add(frame.ToArray());
                burst[i] = new Mbuf(index, length);
            }

            Assert.Equal(30, sender.TxBurst(burst[..30]));
            int n;
            while ((n = receiver.RxBurst(burst)) > 0)
            {
                foreach (Mbuf mbuf in burst[..n])
                {
                    received.Add(set.Pool.Data(mbuf).ToArray());
                }

                set.Pool.Free(burst[..n]);
            }
        }

        Assert.Equal(sent.Count, received.Count);
        for (int i = 0; i < sent.Count; i++)
        {
            Assert.Equal(sent[i], received[i]);
        }

        Assert.Equal(300, a.TxPackets);
        Assert.Equal(300, b.RxPackets);
        Assert.Equal(0, b.RxMissed);
        Assert.Equal(0, a.Dma.Faults + b.Dma.Faults);
    }

    [Fact]
    public void Generator_FillsEveryPostedBuffer_InSequence()
    {
        var kernel = new EmulatedKernel();
        var device = new VirtioNetDevice(s_macA);
        var generator = new PacketGenerator(60, [2, 0, 0, 0, 0, 9], s_macA) { Limit = 1000 };
        device.Connect(generator);
        using PortSet set = PortSet.Open(kernel, [kernel.AddDevice(device).CdevPath!], mbufs: 1024);

        Span<Mbuf> burst = stackalloc Mbuf[64];
        long expected = 0;
        for (int spins = 0; expected < 1000 && spins < 10_000; spins++)
        {
            int n = set.Ports[0].RxBurst(burst);
            foreach (Mbuf mbuf in burst[..n])
            {
                Span<byte> frame = set.Pool.Data(mbuf);
                Assert.Equal(60, frame.Length);
                Assert.Equal(s_macA, frame[..6].ToArray());
                Assert.Equal(expected++, BinaryPrimitives.ReadInt64BigEndian(frame[PacketGenerator.SequenceOffset..]));
            }

            set.Pool.Free(burst[..n]);
        }

        Assert.Equal(1000, expected);
        Assert.Equal(1000, generator.Sent);
        Assert.Equal(1000, device.RxPackets);
    }

    [Fact]
    public void EveryDoorbell_IsTimed_AndCountedOnce()
    {
        using PortSet set = CabledPair.Open(out VirtioNetDevice a, out VirtioNetDevice b);
        long kicks = a.MeteredKicks, ticks = a.DeviceTicks;

        Span<Mbuf> burst = stackalloc Mbuf[3];
        for (int i = 0; i < burst.Length; i++)
        {
            Assert.True(set.Pool.Buffers.TryRent(out int index));
            burst[i] = new Mbuf(index, 60);
        }

        Assert.Equal(3, set.Ports[0].TxBurst(burst));               // one doorbell for the burst
        Assert.Equal(kicks + 1, a.MeteredKicks);
        Assert.True(a.DeviceTicks > ticks);
    }

    [Fact]
    public void UnmappedQueueMemory_FaultsAtTheIommu_AndTheDeviceAsksForReset()
    {
        using PortSet set = CabledPair.Open(out VirtioNetDevice a, out VirtioNetDevice b);
        (ulong iova, ulong length) = set.Ports[0].QueueMemory;
        set.Ioas.Unmap(iova, length);

        Assert.True(set.Pool.Buffers.TryRent(out int index));
        Span<Mbuf> one = [new Mbuf(index, 60)];
        Assert.Equal(1, set.Ports[0].TxBurst(one));                  // posted in memory; the doorbell makes the device read the ring

        Assert.True(set.Ports[0].NeedsReset);
        Assert.Equal(1, a.Dma.Faults);                              // the device stops at its first refused access
        Assert.Equal(IommuFaultReason.Unmapped, a.Dma.LastFault!.Value.Reason);
        Assert.Contains("refused by the IOMMU", a.Error, StringComparison.Ordinal);
        Assert.Equal(0, b.RxPackets);
        Assert.False(set.Ports[1].NeedsReset);
    }

    [Fact]
    public void AfterAFault_ResetAndReinitialisation_BringTheDeviceBack()
    {
        var kernel = new EmulatedKernel();
        var device = new VirtioNetDevice(s_macA);
        var generator = new PacketGenerator(60, [2, 0, 0, 0, 0, 9], s_macA);
        device.Connect(generator);
        using IommuFd iommufd = IommuFd.Open(kernel);
        using Ioas ioas = iommufd.AllocIoas();
        using VfioDevice vfio = VfioDevice.OpenCdev(kernel.AddDevice(device).CdevPath!, kernel);
        vfio.BindIommufd(iommufd);
        vfio.Attach(ioas.Id);
        using var pool = new MbufPool(ioas, 1024);
        Span<Mbuf> burst = stackalloc Mbuf[32];

        var first = new VirtioNetPort(vfio, ioas, pool);
        ioas.Unmap(first.QueueMemory.Iova, first.QueueMemory.Length);
        int n = first.RxBurst(burst);                                // frames already received; the refill's doorbell faults
        pool.Free(burst[..n]);
        Assert.True(first.NeedsReset);
        first.Dispose();                                             // resets the device; its rings were unmapped already

        var second = new VirtioNetPort(vfio, ioas, pool);
        Assert.False(second.NeedsReset);
        n = second.RxBurst(burst);
        Assert.Equal(32, n);
        pool.Free(burst[..n]);
        Assert.Null(device.Error);
        second.Dispose();
        Assert.Equal(1024, pool.Available);                          // after the reset, every buffer is back
    }

    [Fact]
    public unsafe void Device_RefusesFeaturesOk_WithoutAccessPlatform()
    {
        var kernel = new EmulatedKernel();
        var device = new VirtioNetDevice(s_macA);
        using VfioDevice vfio = VfioDevice.OpenCdev(kernel.AddDevice(device).CdevPath!, kernel);
        using IommuFd iommufd = IommuFd.Open(kernel);
        vfio.BindIommufd(iommufd);
        vfio.WriteConfig32(0x04, 0x6);
        using MmioRegion bar = vfio.MapRegion(vfio.GetRegionInfo(Constants.VFIO_PCI_BAR4_REGION_INDEX));

        bar.Write8(0x14, 0);                                         // reset
        bar.Write8(0x14, 1 | 2);                                     // ACKNOWLEDGE | DRIVER
        bar.Write32(0x08, 1);
        bar.Write32(0x0C, 1);                                        // VERSION_1 only (bit 32)
        bar.Write8(0x14, 1 | 2 | 8);
        Assert.Equal(1 | 2, bar.Read8(0x14));                        // FEATURES_OK did not stick

        bar.Write8(0x14, 0);
        bar.Write8(0x14, 1 | 2);
        bar.Write32(0x08, 1);
        bar.Write32(0x0C, 1 | 2);                                    // VERSION_1 | ACCESS_PLATFORM
        bar.Write8(0x14, 1 | 2 | 8);
        Assert.Equal(1 | 2 | 8, bar.Read8(0x14));
        bar.Write32(0x00, 0);
        Assert.Equal(1u << 5, bar.Read32(0x04));                     // MAC is the only low feature offered
    }
}
