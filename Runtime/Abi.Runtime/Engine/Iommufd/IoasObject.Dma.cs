using System.Runtime.CompilerServices;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// Device DMA through the IOAS: IOVA → user memory, page by page, with READ/WRITE checks.
/// <para>
/// Hot path: a direct-mapped IOTLB of 512 pages keyed by IOVA page number. An entry is valid while
/// its generation equals <see cref="_generation"/>; every unmap bumps the generation, which
/// invalidates the whole IOTLB at once. Misses search the sorted areas.
/// </para>
/// <para>
/// Concurrency protocol: a device holds <see cref="DmaLock"/> for reading around each access (or a
/// burst of them, <see cref="BeginDma"/>); map and unmap take it for writing around their change
/// to the areas. So an unmap waits for the DMA in flight, and once it returns no DMA can reach the
/// unmapped memory: no use-after-unmap.
/// </para>
/// </summary>
internal sealed partial class IoasObject
{
    private const int TlbSize = 512;
    private readonly TlbEntry[] _tlb = new TlbEntry[TlbSize];
    private long _generation = 1;

    /// <summary>Device accesses read-lock it; changes to the areas write-lock it.</summary>
    public ReaderWriterLockSlim DmaLock { get; } = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>Where faults go.</summary>
    public FaultLog Faults { get; } = new();

    /// <summary>The memory the engine may touch; set by the context.</summary>
    public UserMemory? Memory { get; set; }

    /// <summary>Holds off unmaps for the duration of a burst of accesses.</summary>
    public DmaScope BeginDma()
    {
        DmaLock.EnterReadLock();
        return new DmaScope(DmaLock);
    }

    /// <summary>Called by map/unmap (under the write lock) after the areas changed.</summary>
    private void Invalidate() => Interlocked.Increment(ref _generation);

    /// <summary>
    /// Translates one IOVA for an access of <paramref name="write"/>, returning the host address,
    /// or 0 after recording a fault. The caller holds <see cref="DmaLock"/> for reading.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Translate(ulong iova, bool write)
    {
        ulong page = iova >> 12;
        ref TlbEntry entry = ref _tlb[(int)(page & (TlbSize - 1))];
        if (entry.Page == page && entry.Generation == Volatile.Read(ref _generation) && (write ? entry.Writable : entry.Readable))
        {
            return entry.Host + (nint)(iova & 0xFFF);
        }

        return TranslateSlow(iova, write);
    }

    /// <summary>Copies device-visible memory at <paramref name="iova"/> into <paramref name="destination"/>; false (and a fault recorded) if any page is refused.</summary>
    public unsafe bool DmaRead(ulong iova, Span<byte> destination)
    {
        using DmaScope scope = BeginDma();
        int done = 0;
        while (done < destination.Length)
        {
            ulong at = iova + (ulong)done;
            nint host = Translate(at, write: false);
            if (host == 0)
            {
                return false;
            }

            int chunk = Math.Min(destination.Length - done, LinuxConstants.PageSize - (int)(at & 0xFFF));
            new ReadOnlySpan<byte>((void*)host, chunk).CopyTo(destination[done..]);
            done += chunk;
        }

        return true;
    }

    /// <summary>Copies <paramref name="source"/> into device-visible memory at <paramref name="iova"/>; false (and a fault recorded) if any page is refused. Pages before the refused one are written, as a device's burst would be.</summary>
    public unsafe bool DmaWrite(ulong iova, ReadOnlySpan<byte> source)
    {
        using DmaScope scope = BeginDma();
        int done = 0;
        while (done < source.Length)
        {
            ulong at = iova + (ulong)done;
            nint host = Translate(at, write: true);
            if (host == 0)
            {
                return false;
            }

            int chunk = Math.Min(source.Length - done, LinuxConstants.PageSize - (int)(at & 0xFFF));
            source.Slice(done, chunk).CopyTo(new Span<byte>((void*)host, chunk));
            done += chunk;
        }

        return true;
    }

    private nint TranslateSlow(ulong iova, bool write)
    {
        int i = LowerBound(iova);
        if (i >= Areas.Count || Areas[i].Iova > iova)
        {
            Faults.Record(iova, write, IommuFaultReason.Unmapped);
            return 0;
        }

        Area area = Areas[i];
        if (write ? !area.Writable : !area.Readable)
        {
            Faults.Record(iova, write, IommuFaultReason.Permission);
            return 0;
        }

        if (area.Pages.FileDescriptor is not null)
        {
            Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
            return 0;
        }

        ulong host = area.Pages.UserVa + area.PagesOffset + (iova - area.Iova);
        ulong pageHost = host & ~0xFFFUL;
        ulong pageIova = iova & ~0xFFFUL;

        // The whole 4 KiB page behind the IOVA must be memory the engine knows, and mapped by this area.
        bool pageInArea = pageIova >= area.Iova && pageIova + 0xFFF <= area.Last && (host & 0xFFF) == (iova & 0xFFF);
        if (Memory is null || !Memory.Contains(pageInArea ? pageHost : host, pageInArea ? (ulong)LinuxConstants.PageSize : 1))
        {
            Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
            return 0;
        }

        if (pageInArea)
        {
            ulong page = iova >> 12;
            _tlb[(int)(page & (TlbSize - 1))] = new TlbEntry
            {
                Page = page,
                Generation = Volatile.Read(ref _generation),
                Host = (nint)pageHost,
                Readable = area.Readable,
                Writable = area.Writable,
            };
        }

        return (nint)host;
    }

    private struct TlbEntry
    {
        public ulong Page;
        public long Generation;
        public nint Host;
        public bool Readable;
        public bool Writable;
    }

    /// <summary>A read-locked DMA section; dispose to let unmaps proceed.</summary>
    public readonly ref struct DmaScope(ReaderWriterLockSlim dmaLock)
    {
        public void Dispose() => dmaLock.ExitReadLock();
    }
}
