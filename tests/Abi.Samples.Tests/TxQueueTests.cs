using System.Runtime.InteropServices;
using Abi.Engine;
using Abi.Engine.Devices.Virtio;
using Abi.Samples.L2fwd;
using Abi.Samples.VirtioNet;

namespace Abi.Samples.Tests;

/// <summary>The transmit queue against a device that reports a descriptor it was never given (this test plays the device on a ring in plain memory).</summary>
public sealed unsafe class TxQueueTests
{
    [Fact]
    public void ACompletionForADescriptorWithoutAFrame_Throws_AndLeavesTheQueueAsItWas()
    {
        var kernel = new EmulatedKernel();
        var a = new VirtioNetDevice([0x52, 0x54, 0, 0, 0, 0xA]);
        var b = new VirtioNetDevice([0x52, 0x54, 0, 0, 0, 0xB]);
        EthernetWire.Connect(a, b);
        using PortSet set = PortSet.Open(kernel, [kernel.AddDevice(a).CdevPath!, kernel.AddDevice(b).CdevPath!], mbufs: 1024);
        const ushort Size = 8;
        byte* memory = (byte*)NativeMemory.AlignedAlloc((nuint)SplitRing.Footprint(Size), 4096);
        try
        {
            new Span<byte>(memory, SplitRing.Footprint(Size)).Clear();
            var ring = new SplitRing(memory, 0x10000, Size);
            var queue = new TxQueue(ring, set.Pool, () => { });
            Mbuf[] frames = new Mbuf[2];
            for (int i = 0; i < frames.Length; i++)
            {
                Assert.True(set.Pool.Buffers.TryRent(out int index));
                frames[i] = new Mbuf(index, 60);
            }

            int available = set.Pool.Available;
            Assert.Equal(2, queue.Burst(frames, out _));
            ushort first = ring.AvailSlot(0), second = ring.AvailSlot(1);

            // The device says it sent the first frame, then descriptor 5, which holds nothing.
            ring.UsedSlot(0) = new SplitRing.UsedElement { Id = first, Length = 0 };
            ring.UsedSlot(1) = new SplitRing.UsedElement { Id = 5, Length = 0 };
            Volatile.Write(ref *(ushort*)(memory + (ring.DeviceIova - ring.Iova) + 2), (ushort)2);
            var failure = Assert.Throws<InvalidOperationException>(queue.Reclaim);
            Assert.Contains("descriptor 5", failure.Message);
            Assert.Equal(available + 1, set.Pool.Available);          // the first came back

            // The bad entry was not taken: corrected, it is read again and gives its frame back, once.
            ring.UsedSlot(1) = new SplitRing.UsedElement { Id = second, Length = 0 };
            queue.Reclaim();
            Assert.Equal(available + 2, set.Pool.Available);
            queue.Reclaim();
            Assert.Equal(available + 2, set.Pool.Available);
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }

    [Fact]
    public void ADoubleFreeFoundByReclaim_KeepsTheCompletionsBeforeIt()
    {
        // A caller's bug: one mbuf sent twice in a burst. The second completion's return is the pool's
        // double free; the first completion stays taken, so the next reclaim meets the same double free
        // again and not a descriptor it already emptied.
        var kernel = new EmulatedKernel();
        var a = new VirtioNetDevice([0x52, 0x54, 0, 0, 0, 0xA]);
        var b = new VirtioNetDevice([0x52, 0x54, 0, 0, 0, 0xB]);
        EthernetWire.Connect(a, b);
        using PortSet set = PortSet.Open(kernel, [kernel.AddDevice(a).CdevPath!, kernel.AddDevice(b).CdevPath!], mbufs: 1024);
        const ushort Size = 8;
        byte* memory = (byte*)NativeMemory.AlignedAlloc((nuint)SplitRing.Footprint(Size), 4096);
        try
        {
            new Span<byte>(memory, SplitRing.Footprint(Size)).Clear();
            var ring = new SplitRing(memory, 0x10000, Size);
            var queue = new TxQueue(ring, set.Pool, () => { });
            Assert.True(set.Pool.Buffers.TryRent(out int index));
            var frame = new Mbuf(index, 60);
            int available = set.Pool.Available;
            Assert.Equal(2, queue.Burst([frame, frame], out _));
            ring.UsedSlot(0) = new SplitRing.UsedElement { Id = ring.AvailSlot(0), Length = 0 };
            ring.UsedSlot(1) = new SplitRing.UsedElement { Id = ring.AvailSlot(1), Length = 0 };
            Volatile.Write(ref *(ushort*)(memory + (ring.DeviceIova - ring.Iova) + 2), (ushort)2);

            Assert.Contains("returned twice", Assert.Throws<InvalidOperationException>(queue.Reclaim).Message);
            Assert.Equal(available + 1, set.Pool.Available);
            Assert.Contains("returned twice", Assert.Throws<InvalidOperationException>(queue.Reclaim).Message);
            Assert.Equal(available + 1, set.Pool.Available);
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }
}
