using System.Runtime.InteropServices;
using Abi.Samples.L2fwd;
using Abi.Samples.VirtioNet;

namespace Abi.Samples.Tests;

/// <summary>The transmit queue against a device that reports what no real one should (this test plays the device on a ring in plain memory).</summary>
public sealed unsafe class TxQueueTests
{
    [Fact]
    public void ACompletionForADescriptorWithoutAFrame_Throws_AndLeavesTheQueueAsItWas()
    {
        using var bench = new Bench();
        Mbuf[] frames = [bench.Rent(), bench.Rent()];
        int available = bench.Pool.Available;
        Assert.Equal(2, bench.Queue.Burst(frames, out _));
        ushort first = bench.Ring.AvailSlot(0), second = bench.Ring.AvailSlot(1);

        // The device says it sent the first frame, then descriptor 5, which holds nothing.
        bench.Complete(first, 5);
        var failure = Assert.Throws<InvalidOperationException>(bench.Queue.Reclaim);
        Assert.Contains("descriptor 5", failure.Message);
        Assert.Equal(available + 1, bench.Pool.Available);          // the first came back

        // The bad entry was not taken: corrected, it is read again and gives its frame back, once.
        bench.Ring.UsedSlot(1) = new SplitRing.UsedElement { Id = second, Length = 0 };
        bench.Queue.Reclaim();
        Assert.Equal(available + 2, bench.Pool.Available);
        bench.Queue.Reclaim();
        Assert.Equal(available + 2, bench.Pool.Available);
    }

    [Fact]
    public void ADoubleFreeFoundByReclaim_KeepsTheCompletionsBeforeIt()
    {
        // A caller's bug: one mbuf sent twice in a burst. The second completion's return is the pool's
        // double free; the first completion stays taken, so the next reclaim meets the same double free
        // again and not a descriptor it already emptied.
        using var bench = new Bench();
        Mbuf frame = bench.Rent();
        int available = bench.Pool.Available;
        Assert.Equal(2, bench.Queue.Burst([frame, frame], out _));
        bench.Complete(bench.Ring.AvailSlot(0), bench.Ring.AvailSlot(1));

        Assert.Contains("returned twice", Assert.Throws<InvalidOperationException>(bench.Queue.Reclaim).Message);
        Assert.Equal(available + 1, bench.Pool.Available);
        Assert.Contains("returned twice", Assert.Throws<InvalidOperationException>(bench.Queue.Reclaim).Message);
        Assert.Equal(available + 1, bench.Pool.Available);
    }

    /// <summary>A transmit queue of 8 on a ring in plain memory, with the mbuf pool of two engine ports.</summary>
    private sealed class Bench : IDisposable
    {
        private const ushort Size = 8;
        private readonly PortSet _set;
        private readonly byte* _memory;

        public Bench()
        {
            _set = CabledPair.Open(out _, out _);
            _memory = (byte*)NativeMemory.AlignedAlloc((nuint)SplitRing.Footprint(Size), 4096);
            new Span<byte>(_memory, SplitRing.Footprint(Size)).Clear();
            Ring = new SplitRing(_memory, 0x10000, Size);
            Queue = new TxQueue(Ring, _set.Pool, () => { });
        }

        public SplitRing Ring { get; }

        public TxQueue Queue { get; }

        public MbufPool Pool => _set.Pool;

        public Mbuf Rent()
        {
            Assert.True(Pool.Buffers.TryRent(out int index));
            return new Mbuf(index, 60);
        }

        /// <summary>Plays the device: reports <paramref name="ids"/> used, in order, and moves used.idx past them.</summary>
        public void Complete(params ushort[] ids)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                Ring.UsedSlot(i) = new SplitRing.UsedElement { Id = ids[i], Length = 0 };
            }

            Volatile.Write(ref *(ushort*)(_memory + (Ring.DeviceIova - Ring.Iova) + 2), (ushort)ids.Length);
        }

        public void Dispose()
        {
            _set.Dispose();
            NativeMemory.AlignedFree(_memory);
        }
    }
}
