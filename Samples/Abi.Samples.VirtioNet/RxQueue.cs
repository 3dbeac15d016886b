using System.Runtime.CompilerServices;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using static Abi.Samples.VirtioNet.VirtioSpec;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// The receive queue (§5.1.6.3): every descriptor holds one mbuf, device-writable, pointing at the
/// virtio header just before the mbuf's frame room. A burst takes what the device used, puts a
/// fresh mbuf in each freed descriptor, publishes them, and rings the doorbell unless the device
/// said it does not need it.
/// </summary>
internal sealed class RxQueue(SplitRing ring, MbufPool pool, Action kick)
{
    private readonly int[] _mbufOf = Empty(ring.Size);
    private readonly int _mask = ring.Size - 1;
    private ushort _lastUsed;
    private ushort _availIndex;

    /// <summary>Fills every descriptor with an mbuf and makes them all available (before DRIVER_OK; the first kick comes after).</summary>
    public void Fill()
    {
        SplitRing r = ring;
        r.AvailFlags = AvailNoInterrupt;
        for (int id = 0; id < r.Size; id++)
        {
            if (!pool.Buffers.TryRent(out int index))
            {
                throw new InvalidOperationException($"the mbuf pool ran dry filling a receive ring of {r.Size}");
            }

            Post(r, pool.Buffers, _mbufOf, id, index, ref _availIndex, _mask);
        }

        MmioRegion.WriteBarrier();
        Volatile.Write(ref r.AvailIndex, _availIndex);
    }

    public void Kick()
    {
        Interlocked.MemoryBarrier();        // the index store must be visible before the flags load (§2.7.13.4)
        if ((ring.UsedFlags & UsedNoNotify) == 0)
        {
            kick();
        }
    }

    /// <summary>Receives up to <paramref name="packets"/>.Length frames; <paramref name="bytes"/>: their frame bytes.</summary>
    public int Burst(Span<Mbuf> packets, out long bytes)
    {
        // The queue's state lives in locals for the loop and goes back once: the JIT cannot keep a
        // field in a register across the stores to the ring.
        SplitRing r = ring;
        bytes = 0;
        ushort lastUsed = _lastUsed;
        int ready = (ushort)(r.UsedIndex - lastUsed);
        int n = Math.Min(ready, packets.Length);
        if (n == 0)
        {
            return 0;
        }

        MmioRegion.ReadBarrier();           // the used entries and frames after the index that covers them
        BufferPool buffers = pool.Buffers;
        int[] mbufOf = _mbufOf;
        int mask = _mask;
        ushort availIndex = _availIndex;
        long total = 0;
        int received = 0, taken = 0;
        for (; taken < n; taken++)
        {
            if (!buffers.TryRent(out int fresh))
            {
                break;                       // keep the frame in the ring until buffers come back
            }

            ref SplitRing.UsedElement used = ref r.UsedSlot(lastUsed & mask);
            uint id = used.Id;
            uint length = used.Length;
            lastUsed++;
            if (id >= (uint)mbufOf.Length || mbufOf[id] < 0)
            {
                // A completion for a descriptor that holds no buffer: nothing to hand over or repost.
                Errors++;
                buffers.Return(fresh);
                continue;
            }

            if (length <= NetHeaderLength || length > NetHeaderLength + MbufPool.DataRoom)
            {
                // A completion that carries no frame (a dropped one has length 0) or makes no sense:
                // its buffer goes straight back to the device, the fresh one back to the pool.
                Errors++;
                buffers.Return(fresh);
                fresh = mbufOf[id];
            }
            else
            {
                packets[received++] = new Mbuf(mbufOf[id], (int)length - NetHeaderLength);
                total += length - (uint)NetHeaderLength;
            }

            Post(r, buffers, mbufOf, (int)id, fresh, ref availIndex, mask);
        }

        _lastUsed = lastUsed;
        _availIndex = availIndex;
        bytes = total;
        if (taken == 0)
        {
            return 0;                        // the pool is dry: nothing was reposted, so nothing to publish
        }

        MmioRegion.WriteBarrier();
        Volatile.Write(ref r.AvailIndex, availIndex);
        Kick();
        return received;
    }

    /// <summary>Completions that carried no usable frame (length 0 or out of range, or a bad id).</summary>
    public long Errors { get; private set; }

    /// <summary>Returns the mbufs still in the ring to the pool (after the device was reset).</summary>
    public void Release()
    {
        for (int id = 0; id < _mbufOf.Length; id++)
        {
            if (_mbufOf[id] >= 0)
            {
                pool.Buffers.Return(_mbufOf[id]);
                _mbufOf[id] = -1;
            }
        }
    }

    private static int[] Empty(int size)
    {
        int[] slots = new int[size];
        Array.Fill(slots, -1);
        return slots;
    }

    // Gives descriptor id the buffer index, device-writable, and makes it available. Static, on what
    // the caller holds: a burst passes its locals, so the loop keeps them in registers.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Post(SplitRing r, BufferPool buffers, int[] mbufOf, int id, int index, ref ushort availIndex, int mask)
    {
        ref SplitRing.Descriptor d = ref r[id];
        d.Address = buffers.IovaOf(index) + (ulong)(MbufPool.Headroom - NetHeaderLength);
        d.Length = (uint)(NetHeaderLength + MbufPool.DataRoom);
        d.Flags = DescWrite;
        mbufOf[id] = index;
        r.AvailSlot(availIndex & mask) = (ushort)id;
        availIndex++;
    }
}
