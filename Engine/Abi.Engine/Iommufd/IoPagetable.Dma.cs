using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Abi.Engine.Process;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Device DMA through the table (an IOAS, or a type1 container): IOVA → user memory, page by page, with READ/WRITE checks.
/// <para>
/// Hot path: a direct-mapped IOTLB of 512 pages keyed by IOVA page number. An entry is valid while
/// its generation equals <see cref="_generation"/> and the user memory's generation matches too;
/// every unmap or munmap bumps one of them, which invalidates the whole IOTLB at once. Misses
/// search the sorted areas. Entries are written under a per-entry sequence number (a seqlock), so
/// a reader never combines the fields of two different writes.
/// </para>
/// <para>
/// Concurrency protocol: a device holds <see cref="DmaLock"/> and the user memory's lock for reading
/// around each access (or a burst of them, <see cref="BeginDma"/>); map and unmap take the table's lock
/// for writing around their change to the areas, munmap takes the memory lock. So an unmap waits for
/// the DMA in flight, and once it returns no DMA can reach the unmapped memory: no use-after-unmap.
/// </para>
/// </summary>
internal sealed partial class IoPagetable
{
    private const int TlbSize = 512;
    private readonly TlbEntry[] _tlb = new TlbEntry[TlbSize];
    private long _generation = 1;

    /// <summary>Device accesses read through it; changes to the areas write through it.</summary>
    public DmaGate DmaLock { get; } = new();

    /// <summary>Where faults go.</summary>
    public FaultLog Faults { get; } = new();

    /// <summary>The memory the engine may touch; set by the context.</summary>
    public UserMemory? Memory { get; set; }

    /// <summary>Holds off unmaps for the duration of a burst of accesses.</summary>
    public DmaScope BeginDma()
    {
        ReaderWriterLockSlim? memory = Memory?.Lock;
        memory?.EnterReadLock();
        return new DmaScope(DmaLock, DmaLock.EnterRead(), memory);
    }

    /// <summary>Called by map/unmap (under the write lock) after the areas changed.</summary>
    private void Invalidate() => Interlocked.Increment(ref _generation);

    /// <summary>
    /// Translates one IOVA for an access of <paramref name="write"/>, returning the host address and
    /// how many bytes from it the mapping covers within this page, or 0 after recording a fault. The
    /// caller holds the DMA scope (<see cref="BeginDma"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Translate(ulong iova, bool write, out int valid)
    {
        ulong page = iova >> 12;
        ref TlbEntry entry = ref _tlb[(int)(page & (TlbSize - 1))];
        int sequence = Volatile.Read(ref entry.Sequence);
        ulong cachedPage = entry.Page;
        long generation = entry.Generation;
        long memoryGeneration = entry.MemoryGeneration;
        nint host = entry.Host;
        bool allowed = write ? entry.Writable : entry.Readable;
        Volatile.ReadBarrier();
        if ((sequence & 1) == 0 && entry.Sequence == sequence && cachedPage == page && allowed
            && generation == Volatile.Read(ref _generation) && memoryGeneration == Memory!.Generation)
        {
            valid = LinuxConstants.PageSize - (int)(iova & 0xFFF);
            return host + (nint)(iova & 0xFFF);
        }

        return TranslateSlow(iova, write, out valid);
    }

    /// <summary>Translates one IOVA (see the other overload) when the caller does not need the valid length.</summary>
    public nint Translate(ulong iova, bool write) => Translate(iova, write, out _);

    /// <summary>Copies device-visible memory at <paramref name="iova"/> into <paramref name="destination"/>; false (and a fault recorded) if any page is refused.</summary>
    public bool DmaRead(ulong iova, Span<byte> destination) => Copy(iova, destination, write: false) == destination.Length;

    /// <summary>Copies <paramref name="source"/> into device-visible memory at <paramref name="iova"/>; false (and a fault recorded) if any page is refused.</summary>
    public bool DmaWrite(ulong iova, ReadOnlySpan<byte> source) => DmaWrite(iova, source, out _);

    /// <summary>As <see cref="DmaWrite(ulong, ReadOnlySpan{byte})"/>, saying how many bytes were written: the pages before a refused one are, as a device's burst would write them.</summary>
    public bool DmaWrite(ulong iova, ReadOnlySpan<byte> source, out int written)
    {
        // Copy only reads from the buffer when writing device memory, so the span is never written through.
        written = Copy(iova, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), write: true);
        return written == source.Length;
    }

    private int Copy(ulong iova, Span<byte> buffer, bool write)
    {
        using DmaScope scope = BeginDma();
        return CopyInScope(iova, buffer, write);
    }

    /// <summary>
    /// The one copy loop: page by page through <see cref="Translate(ulong, bool, out int)"/>; returns
    /// the bytes copied before the first refused page. The caller holds the DMA scope
    /// (<see cref="BeginDma"/>), once per access or once for a burst of them.
    /// </summary>
    public unsafe int CopyInScope(ulong iova, Span<byte> buffer, bool write)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            nint host = Translate(iova + (ulong)done, write, out int valid);
            if (host == 0)
            {
                break;
            }

            int chunk = Math.Min(buffer.Length - done, valid);
            var memory = new Span<byte>((void*)host, chunk);
            if (write)
            {
                buffer.Slice(done, chunk).CopyTo(memory);
            }
            else
            {
                memory.CopyTo(buffer[done..]);
            }

            done += chunk;
        }

        return done;
    }

    private nint TranslateSlow(ulong iova, bool write, out int valid)
    {
        valid = 0;
        if (!TryGetArea(iova, out Area area))
        {
            Faults.Record(iova, write, IommuFaultReason.Unmapped);
            return 0;
        }

        if (write ? !area.Writable : !area.Readable)
        {
            Faults.Record(iova, write, IommuFaultReason.Permission);
            return 0;
        }

        ulong pageEnd = (iova | 0xFFF) < iova ? ulong.MaxValue : iova | 0xFFF;
        ulong lastCovered = Math.Min(pageEnd, area.Last);
        int length = (int)(lastCovered - iova + 1);
        ulong host;
        long memoryGeneration;
        bool wholePage;
        if (area.Pages.FileDescriptor is not null)
        {
            // A shmem file's pages, through the engine's view of the file; not past the end the file
            // had when it was mapped (memfd_pin_folios refuses pages past EOF).
            Pages pages = area.Pages;
            ulong inPages = area.PagesOffset + (iova - area.Iova);
            ulong fileByte = pages.FileOffset + inPages;
            if (pages.FileView == 0 || pages.FileSize is not long size || fileByte >= (ulong)size)
            {
                Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
                return 0;
            }

            length = (int)Math.Min((ulong)length, (ulong)size - fileByte);
            host = (ulong)pages.FileView + (pages.FileOffset & 0xFFF) + inPages;
            memoryGeneration = Memory?.Generation ?? 0;
            wholePage = ((fileByte | 0xFFF) + 1) <= (ulong)size;
        }
        else
        {
            if (Memory is null)
            {
                Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
                return 0;
            }

            // Bytes this area maps from iova to the end of its IOVA page, and the host range behind them.
            host = area.Pages.UserVa + area.PagesOffset + (iova - area.Iova);
            memoryGeneration = Memory.Generation;
            if (!Memory.Contains(host, (ulong)length))
            {
                Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
                return 0;
            }

            wholePage = true;                               // checked below, only when the page would be cached
        }

        valid = length;

        // Cache only a whole page mapped at the same page offset, so a hit can serve any byte of it.
        ulong pageIova = iova & ~0xFFFUL;
        if (pageIova >= area.Iova && pageEnd <= area.Last && (host & 0xFFF) == (iova & 0xFFF) && wholePage
            && (area.Pages.FileDescriptor is not null || Memory!.Contains(host & ~0xFFFUL, LinuxConstants.PageSize)))
        {
            ulong page = iova >> 12;
            ref TlbEntry entry = ref _tlb[(int)(page & (TlbSize - 1))];
            int sequence = Volatile.Read(ref entry.Sequence);
            if ((sequence & 1) == 0 && Interlocked.CompareExchange(ref entry.Sequence, sequence + 1, sequence) == sequence)
            {
                entry.Page = page;
                entry.Generation = Volatile.Read(ref _generation);
                entry.MemoryGeneration = memoryGeneration;
                entry.Host = (nint)(host & ~0xFFFUL);
                entry.Readable = area.Readable;
                entry.Writable = area.Writable;
                Volatile.Write(ref entry.Sequence, sequence + 2);
            }
        }

        return (nint)host;
    }

    private struct TlbEntry
    {
        public int Sequence;
        public ulong Page;
        public long MemoryGeneration;
        public long Generation;
        public nint Host;
        public bool Readable;
        public bool Writable;
    }

    /// <summary>A read-locked DMA section; dispose to let unmaps proceed.</summary>
    public readonly ref struct DmaScope(DmaGate dmaLock, bool entered, ReaderWriterLockSlim? memoryLock)
    {
        public void Dispose()
        {
            dmaLock.ExitRead(entered);
            memoryLock?.ExitReadLock();
        }
    }
}
