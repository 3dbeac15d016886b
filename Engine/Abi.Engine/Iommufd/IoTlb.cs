using System.Runtime.CompilerServices;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The io-pagetable's IOTLB: a direct-mapped cache of whole 4 KiB pages, IOVA page → host page with
/// the area's read/write permission, one 64-bit word per entry so that a reader never sees half of
/// a fill (no sequence number, no fence: a hit is one load, a compare and an add).
/// <para>
/// The word holds the IOVA page's tag (its bits above the index, IOVA bits 24-50, in bits 0-26: IOVAs
/// below 2^51), the host page (host address bits 12-46 in bits 27-61: host addresses below 2^47) and
/// what the mapping refuses (bit 62 reads, bit 63 writes), so that a hit is the IOVA shifted, compared
/// with the word under one mask. An empty slot is all ones: it refuses both. Pages outside those
/// ranges are never cached and always take the slow path.
/// </para>
/// <para>
/// Coherence is the owner's protocol (see IoPagetable.Dma): entries are filled by device accesses
/// inside the DMA gate's read side, dropped by unmaps inside its write side (only the unmapped pages'
/// slots, as an IOTLB flush by range), and a table is replaced whole when the user memory behind it
/// changed (<see cref="MemoryGeneration"/>), which the owner checks as each burst starts.
/// </para>
/// </summary>
internal sealed class IoTlb
{
    /// <summary>Entries: 4096 pages (16 MiB of IOVA reach) in 32 KiB, so a NIC's rings and buffer pool stay resident.</summary>
    public const int Size = 4096;
    private const int TagShift = 24;                 // IOVA bits below the tag: the page offset and the index
    private const int TagBits = 27;
    private const ulong TagMask = (1UL << TagBits) - 1;
    private const int HostShift = TagBits - 12;      // host address bit 12 sits at word bit 27
    private const ulong HostMask = ((1UL << 47) - 1) & ~0xFFFUL;
    private const ulong ReadRefused = 1UL << 62, WriteRefused = 1UL << 63;
    private const ulong Empty = ulong.MaxValue;

    private Entries _entries;       // inline: a hit reads the table object, not an array behind it
    private bool _used;

    public IoTlb(long memoryGeneration)
    {
        MemoryGeneration = memoryGeneration;
        ((Span<ulong>)_entries).Fill(Empty);
    }

    /// <summary>The user memory's generation the entries were filled under; a table is never reused across generations.</summary>
    public long MemoryGeneration { get; }

    /// <summary>The host address of <paramref name="iova"/> when its page is cached with the permission the access needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(ulong iova, bool write, out nint host)
    {
        ulong entry = Unsafe.Add(ref _entries.First, (nint)((iova >> 12) & (Size - 1)));

        // An IOVA too high for the tag keeps bits above the mask after the shift, so it never matches;
        // nor does a slot that refuses the access, whose refusal bit survives the mask.
        if ((entry & (TagMask | (write ? WriteRefused : ReadRefused))) == iova >> TagShift)
        {
            host = (nint)(((entry >> HostShift) & HostMask) | (iova & 0xFFF));
            return true;
        }

        host = 0;
        return false;
    }

    /// <summary>Caches the page at <paramref name="pageIova"/> (page aligned) as mapped to <paramref name="hostPage"/>; does nothing for pages the word cannot hold.</summary>
    public void Fill(ulong pageIova, ulong hostPage, bool readable, bool writable)
    {
        ulong tag = pageIova >> TagShift;
        if (tag > TagMask || hostPage > HostMask || !(readable || writable))
        {
            return;
        }

        ulong entry = tag | (hostPage << HostShift) | (readable ? 0 : ReadRefused) | (writable ? 0 : WriteRefused);
        Volatile.Write(ref _entries[(int)((pageIova >> 12) & (Size - 1))], entry);
        _used = true;
    }

    /// <summary>Drops the pages of [<paramref name="iova"/>, <paramref name="last"/>]; the caller excludes every reader (the gate's write side).</summary>
    public void Invalidate(ulong iova, ulong last)
    {
        if (!_used)
        {
            return;
        }

        ulong first = iova >> 12, end = last >> 12;
        if (end - first >= Size - 1)
        {
            ((Span<ulong>)_entries).Fill(Empty);
            _used = false;
            return;
        }

        for (ulong page = first; ; page++)
        {
            _entries[(int)(page & (Size - 1))] = Empty;
            if (page == end)
            {
                break;
            }
        }
    }

    [InlineArray(Size)]
    private struct Entries
    {
        public ulong First;
    }
}
