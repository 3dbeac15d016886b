using System.Runtime.CompilerServices;
using Abi.Linux.Virtio;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using static Abi.Samples.VirtioNet.VirtioSpec;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// The transmit queue (§5.1.6.2): one descriptor per frame, covering a zeroed virtio header in the
/// mbuf's headroom and the frame after it. A burst first reclaims what the device has sent
/// (returning those mbufs to the pool), then posts as many frames as there are free descriptors.
/// </summary>
internal sealed unsafe class TxQueue
{
    private readonly SplitRing _ring;
    private readonly MbufPool _pool;
    private readonly Action _kick;
    private readonly int[] _mbufOf;
    private readonly ushort[] _free;
    private readonly int _mask;
    private int _freeCount;
    private ushort _lastUsed;
    private ushort _availIndex;

    public TxQueue(SplitRing ring, MbufPool pool, Action kick)
    {
        _ring = ring;
        _pool = pool;
        _kick = kick;
        _mbufOf = new int[ring.Size];
        _free = new ushort[ring.Size];
        _mask = ring.Size - 1;
        for (int id = 0; id < ring.Size; id++)
        {
            _free[_freeCount++] = (ushort)(ring.Size - 1 - id);
            _mbufOf[id] = -1;
        }

        _ring.AvailFlags = AvailNoInterrupt;
    }

    /// <summary>Posts up to <paramref name="packets"/>.Length frames; the queue owns the first n returned, the caller keeps the rest. <paramref name="bytes"/>: the frame bytes of those n.</summary>
    public int Burst(ReadOnlySpan<Mbuf> packets, out long bytes)
    {
        Reclaim();
        bytes = 0;
        int n = Math.Min(packets.Length, _freeCount);
        if (n == 0)
        {
            return 0;
        }

        // The header sits just before the frame: one typed store per packet clears it, with the
        // buffer's address and IOVA computed from the pool's bases (no span per packet).
        BufferPool buffers = _pool.Buffers;
        int offset = MbufPool.Headroom - NetHeaderLength;
        byte* headers = (byte*)buffers.Memory.Address + offset;
        ulong headerIovas = buffers.IovaBase + (ulong)offset;
        int count = buffers.Count;
        SplitRing r = _ring;
        ushort[] free = _free;
        int[] mbufOf = _mbufOf;
        int mask = _mask;
        int freeCount = _freeCount;
        ushort availIndex = _availIndex;
        long total = 0;
        for (int k = 0; k < n; k++)
        {
            Mbuf mbuf = packets[k];
            if ((uint)mbuf.Index >= (uint)count)
            {
                _freeCount = freeCount;
                _availIndex = availIndex;
                throw new ArgumentOutOfRangeException(nameof(packets), $"mbuf {mbuf.Index} is not one of the pool's {count}");
            }

            ushort id = free[--freeCount];
            long at = (long)mbuf.Index * MbufPool.BufferSize;
            Unsafe.WriteUnaligned(headers + at, default(virtio_net_hdr_v1));    // no offloads requested
            ref SplitRing.Descriptor d = ref r[id];
            d.Address = headerIovas + (ulong)at;
            d.Length = (uint)(NetHeaderLength + mbuf.Length);
            d.Flags = 0;
            mbufOf[id] = mbuf.Index;
            r.AvailSlot(availIndex & mask) = id;
            availIndex++;
            total += mbuf.Length;
        }

        _freeCount = freeCount;
        _availIndex = availIndex;
        bytes = total;
        MmioRegion.WriteBarrier();              // descriptors and entries before the index (§2.7.13.3)
        Volatile.Write(ref r.AvailIndex, availIndex);
        Interlocked.MemoryBarrier();            // the index before the flags load (§2.7.13.4)
        if ((r.UsedFlags & UsedNoNotify) == 0)
        {
            _kick();
        }

        return n;
    }

    /// <summary>Returns the mbufs of every frame the device reports sent.</summary>
    public void Reclaim()
    {
        ushort usedIndex = _ring.UsedIndex;
        ushort lastUsed = _lastUsed;
        if (usedIndex == lastUsed)
        {
            return;
        }

        MmioRegion.ReadBarrier();
        SplitRing r = _ring;
        BufferPool buffers = _pool.Buffers;
        ushort[] free = _free;
        int[] mbufOf = _mbufOf;
        int mask = _mask;
        int freeCount = _freeCount;
        while (lastUsed != usedIndex)
        {
            uint id = r.UsedSlot(lastUsed & mask).Id;
            if (id >= (uint)mbufOf.Length || mbufOf[id] < 0)
            {
                throw new InvalidOperationException($"the device reported descriptor {id} sent, which holds no frame");
            }

            buffers.Return(mbufOf[id]);             // throws on a double free (one mbuf sent twice)
            mbufOf[id] = -1;
            free[freeCount++] = (ushort)id;
            lastUsed++;

            // Stored as each completion is done (stores only; nothing reads them back in the loop), so
            // a throw leaves the completions before it taken.
            _freeCount = freeCount;
            _lastUsed = lastUsed;
        }
    }

    /// <summary>Returns the mbufs of frames never sent (after the device was reset).</summary>
    public void Release()
    {
        for (int id = 0; id < _mbufOf.Length; id++)
        {
            if (_mbufOf[id] >= 0)
            {
                _pool.Buffers.Return(_mbufOf[id]);
                _mbufOf[id] = -1;
            }
        }
    }
}
