using System.Runtime.CompilerServices;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The io-pagetable's IOTLB: a direct-mapped cache of whole 4 KiB pages, IOVA page → host page with
/// the area's read/write permission, one 64-bit word per entry so that a reader never sees half of
/// a fill (no sequence number, no fence: a hit is one load, a compare and an add).
/// <para>
/// The word holds the host page number (bits 29-63: host addresses below 2^47), the IOVA page's tag
/// (its bits above the index, bits 2-28: IOVAs below 2^51) and the permissions (bits 0-1); a zero word
/// grants nothing and so never hits. Pages outside those ranges are never cached and always take the
/// slow path.
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
    private const int IndexBits = 12;
    private const int TagShift = 2;
    private const int TagBits = 27;
    private const int HostShift = TagShift + TagBits;
    private const ulong TagMask = ((1UL << TagBits) - 1) << TagShift;
    private const ulong Readable = 1, Writable = 2;

    private Entries _entries;       // inline: a hit reads the table object, not an array behind it
    private bool _used;

    public IoTlb(long memoryGeneration) => MemoryGeneration = memoryGeneration;

    /// <summary>The user memory's generation the entries were filled under; a table is never reused across generations.</summary>
    public long MemoryGeneration { get; }

    /// <summary>The host address of <paramref name="iova"/> when its page is cached with the permission the access needs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTranslate(ulong iova, bool write, out nint host)
    {
        ulong entry = Unsafe.Add(ref _entries.First, (nint)((iova >> 12) & (Size - 1)));
        ulong need = write ? Writable : Readable;

        // The tag is the IOVA's bits from 24 up, stored from bit 2: one shift and a mask away. A tag
        // too wide for the field sets bits outside the mask, so such a page can never match.
        if ((entry & (TagMask | need)) == (((iova >> (12 + IndexBits - TagShift)) & ~((1UL << TagShift) - 1)) | need))
        {
            host = (nint)(((entry >> HostShift) << 12) | (iova & 0xFFF));
            return true;
        }

        host = 0;
        return false;
    }

    /// <summary>Caches the page at <paramref name="pageIova"/> (page aligned) as mapped to <paramref name="hostPage"/>; does nothing for pages the word cannot hold.</summary>
    public void Fill(ulong pageIova, ulong hostPage, bool readable, bool writable)
    {
        ulong page = pageIova >> 12;
        ulong tag = page >> IndexBits;
        if (tag >= 1UL << TagBits || hostPage >= 1UL << (64 - HostShift + 12) || !(readable || writable))
        {
            return;
        }

        ulong entry = ((hostPage >> 12) << HostShift) | (tag << TagShift) | (readable ? Readable : 0) | (writable ? Writable : 0);
        Volatile.Write(ref _entries[(int)(page & (Size - 1))], entry);
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
            ((Span<ulong>)_entries).Clear();
            _used = false;
            return;
        }

        for (ulong page = first; ; page++)
        {
            _entries[(int)(page & (Size - 1))] = 0;
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
