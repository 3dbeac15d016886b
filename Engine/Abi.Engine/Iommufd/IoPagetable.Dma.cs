using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Abi.Engine.Process;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Device DMA through the table (an IOAS, or a type1 container): IOVA → user memory, page by page, with READ/WRITE checks.
/// <para>
/// Hot path: the <see cref="IoTlb"/>, one 64-bit word per cached page, read with one plain load. Its
/// coherence follows from the gate: fills happen inside a DMA section (the gate's read side), unmaps
/// drop the pages they remove inside the write side (<see cref="Remove"/>), so no reader is in flight
/// while an entry goes stale. Munmap of user memory bumps the memory's generation; each burst compares
/// it as it starts (<see cref="BeginDma"/>) and replaces a table filled under an older one. Misses
/// search the areas' tree.
/// </para>
/// <para>
/// Concurrency protocol: a device holds <see cref="DmaLock"/> and the user memory's lock for reading
/// around each access (or a burst of them, <see cref="BeginDma"/>); map and unmap take the table's gate
/// for writing around their change to the areas, munmap takes the memory lock. So an unmap waits for
/// the DMA in flight, and once it returns no DMA can reach the unmapped memory: no use-after-unmap.
/// Memory the interposer learns was unmapped behind the engine's back (discovery) bumps the
/// generation only when the engine next looks, so a burst already running may finish on the old
/// translations, as it would have had it run a moment earlier.
/// </para>
/// </summary>
internal sealed partial class IoPagetable
{
    private IoTlb? _tlb;

    /// <summary>Device accesses read through it; changes to the areas write through it.</summary>
    public DmaGate DmaLock { get; } = new();

    /// <summary>Where faults go.</summary>
    public FaultLog Faults { get; } = new();

    /// <summary>The memory the engine may touch; set by the context.</summary>
    public UserMemory? Memory { get; set; }

    /// <summary>Holds off unmaps for the duration of a burst of accesses.</summary>
    public DmaScope BeginDma()
    {
        UserMemory? memory = Memory;
        ReaderWriterLockSlim? memoryLock = memory?.Lock;
        memoryLock?.EnterReadLock();
        DmaLock.EnterRead();
        var scope = new DmaScope(DmaLock, memoryLock);
        long generation = memory?.Generation ?? 0;
        IoTlb? tlb = Volatile.Read(ref _tlb);
        if (tlb is null || tlb.MemoryGeneration != generation)
        {
            // First DMA, or memory went away since the entries were filled: a fresh table (a burst on
            // another thread may still be filling the old one, so it is not cleared in place).
            Interlocked.CompareExchange(ref _tlb, new IoTlb(generation), tlb);
        }

        return scope;
    }

    /// <summary>Drops cached translations of [<paramref name="iova"/>, <paramref name="last"/>]; called inside the gate's write side.</summary>
    private void Invalidate(ulong iova, ulong last) => _tlb?.Invalidate(iova, last);

    /// <summary>
    /// Translates one IOVA for an access of <paramref name="write"/>, returning the host address and
    /// how many bytes from it the mapping covers within this page, or 0 after recording a fault. The
    /// caller holds the DMA scope (<see cref="BeginDma"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Translate(ulong iova, bool write, out int valid)
    {
        IoTlb? tlb = _tlb;
        if (tlb is not null && tlb.TryTranslate(iova, write, out nint host))
        {
            valid = LinuxConstants.PageSize - (int)(iova & 0xFFF);
            return host;
        }

        return TranslateSlow(iova, write, out valid);
    }

    /// <summary>Translates one IOVA (see the other overload) when the caller does not need the valid length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Translate(ulong iova, bool write)
    {
        IoTlb? tlb = _tlb;
        return tlb is not null && tlb.TryTranslate(iova, write, out nint host) ? host : TranslateMiss(iova, write);
    }

    // Out of line, so that a hit does not set up the slow path's out argument.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private nint TranslateMiss(ulong iova, bool write) => TranslateSlow(iova, write, out _);

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
        if (area.Pages.DmaBuf is DmaBufFile buffer)
        {
            return TranslateDmaBuf(area, buffer, iova, write, length, out valid);
        }

        ulong host;
        long memoryGeneration;
        bool wholePage;
        bool hostWritable;
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
            hostWritable = true;
        }
        else
        {
            if (Memory is null)
            {
                Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
                return 0;
            }

            // Bytes this area maps from iova to the end of its IOVA page, and the host range behind them.
            // A read takes read-only memory (iopt_pages_rw_access reads the mm, or pins without
            // FOLL_WRITE); only a write needs the memory writable. When the host page lines up with the
            // IOVA page (the case the IOTLB caches), a writable host page covers the range too: one
            // lookup, under the memory lock the DMA scope holds.
            host = area.Pages.UserVa + area.PagesOffset + (iova - area.Iova);
            memoryGeneration = Memory.Generation;
            hostWritable = (host & 0xFFF) == (iova & 0xFFF) && Memory.ContainsHeld(host & ~0xFFFUL, LinuxConstants.PageSize, write: true);
            if (!hostWritable && !Memory.ContainsHeld(host, (ulong)length, write))
            {
                Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
                return 0;
            }

            wholePage = true;                               // checked below, only when the page would be cached
        }

        valid = length;

        // Cache only a whole page mapped at the same page offset, so a hit can serve any byte of it;
        // and only into a table of the generation this translation was made under. Memory the process
        // may only read is cached refusing writes, whatever the mapping allows.
        ulong pageIova = iova & ~0xFFFUL;
        if (pageIova >= area.Iova && pageEnd <= area.Last && (host & 0xFFF) == (iova & 0xFFF) && wholePage
            && _tlb is IoTlb tlb && tlb.MemoryGeneration == memoryGeneration && (Memory?.Generation ?? 0) == memoryGeneration)
        {
            if (hostWritable || Memory!.ContainsHeld(host & ~0xFFFUL, LinuxConstants.PageSize, write: false))
            {
                tlb.Fill(pageIova, host & ~0xFFFUL, area.Readable, area.Writable && hostWritable);
            }
        }

        return (nint)host;
    }

    /// <summary>
    /// A dma-buf's area: peer-to-peer, to the exporter's memory, while the mapping was never invalidated
    /// (a revoked buffer's pages are out of every domain for good). Never cached in the IOTLB, so an
    /// invalidation needs no shootdown; a burst that looked before it finishes on memory that stays.
    /// </summary>
    private nint TranslateDmaBuf(Area area, DmaBufFile buffer, ulong iova, bool write, int length, out int valid)
    {
        valid = 0;
        ulong contiguous = 0;
        nint host = area.Pages.DmaBufRevoked ? 0 : buffer.Reach(area.Pages.FileOffset + area.PagesOffset + (iova - area.Iova), out contiguous);
        if (host == 0)
        {
            Faults.Record(iova, write, IommuFaultReason.UnknownMemory);
            return 0;
        }

        valid = (int)Math.Min((ulong)length, contiguous);
        return host;
    }

    /// <summary>A read-locked DMA section; dispose to let unmaps proceed.</summary>
    public readonly ref struct DmaScope(DmaGate dmaLock, ReaderWriterLockSlim? memoryLock)
    {
        public void Dispose()
        {
            dmaLock.ExitRead();
            memoryLock?.ExitReadLock();
        }
    }
}
