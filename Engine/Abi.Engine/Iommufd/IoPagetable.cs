using System.Runtime.InteropServices;
using Abi.Engine.Process;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// An I/O page table (drivers/iommu/iommufd/io_pagetable.c, <c>struct io_pagetable</c>): the areas
/// mapped in one IOVA space, its reserved and allowed ranges, IOVA alignment and allocation, the
/// domains that mirror it and the accesses attached to it. An IOAS holds one; so does a type1
/// container (the kernel's compat layer serves type1 over the same structure). Everything here
/// changes through methods; readers get spans and area ranges.
/// <para>
/// Ranges are inclusive (<c>last</c>), stated once here: a range ending at 2^64-1 has no
/// representable "end", so nothing here computes <c>last + 1</c> without checking.
/// </para>
/// </summary>
internal sealed partial class IoPagetable
{
    /// <summary>The largest automatic IOVA alignment: the THP size (2 MiB), as on a kernel built with transparent huge pages.</summary>
    public const ulong MaxAutoAlignment = 2 * 1024 * 1024;

    // Ordered by Iova, never overlapping.
    private readonly AreaTree _areas = new();
    private readonly ReservedRanges _reserved = new();
    private readonly List<HwptPagingObject> _domains = [];
    private readonly List<(ulong Start, ulong Last)> _allowed = [];
    private readonly List<AccessObject> _accesses = [];
    private readonly Stack<Pages> _freePages = new();

    /// <summary>How many areas are mapped.</summary>
    public int AreaCount => _areas.Count;

    /// <summary>Every area, ascending by IOVA.</summary>
    public AreaRange Areas => _areas.TryFirst(out AreaTree.Position first) ? new(first, ulong.MaxValue) : default;

    /// <summary>The areas that intersect [<paramref name="start"/>, <paramref name="last"/>], ascending.</summary>
    public AreaRange AreasIn(ulong start, ulong last) => _areas.TrySeek(start, out AreaTree.Position first) ? new(first, last) : default;

    /// <summary>Reserved ranges (inclusive) with their owners, by start; changed through <see cref="AddReserved"/> and <see cref="RemoveReserved"/>.</summary>
    public ReadOnlySpan<ReservedRange> Reserved => _reserved.All;

    /// <summary>Paging HWPTs (domains) built on this table, each mirroring every area; changed through <see cref="AddDomain"/> and <see cref="RemoveDomain"/>.</summary>
    public ReadOnlySpan<HwptPagingObject> Domains => CollectionsMarshal.AsSpan(_domains);

    /// <summary>Allowed ranges from ALLOW_IOVAS (inclusive), sorted; empty means unrestricted. Replaced whole by <see cref="SetAllowed"/>.</summary>
    public ReadOnlySpan<(ulong Start, ulong Last)> Allowed => CollectionsMarshal.AsSpan(_allowed);

    public ulong Alignment { get; set; } = 1;

    public bool HugePages { get; set; } = true;

    /// <summary>Where pins are charged. Null for tables that account by themselves (type1).</summary>
    public PinAccounting? Accounting { get; init; }

    /// <summary>The failure injection points of the kernel this table belongs to (<c>area.alloc</c>, <c>pages.account</c>).</summary>
    public FaultInjection? Injection { get; init; }

    /// <summary>How a mapping's file reference is dropped when the table goes with mappings in it (the kernel's deferred fput).</summary>
    public Action<EngineFile>? PutFile { get; init; }

    /// <summary>Whether pages no area holds any more wait in this table's pool for its next map (an IOAS's; type1 makes its own).</summary>
    public bool PoolsPages { get; init; }

    /// <summary>
    /// The IOVA lock (the kernel's <c>iopt->iova_rwsem</c>, held for writing): IOAS_MAP and IOAS_UNMAP take
    /// it alone, every other iommufd handler holds it through the context's exclusive section. It
    /// guards everything here but DMA, which the gate (<see cref="DmaLock"/>) keeps apart.
    /// </summary>
    public HandlerLock IovaLock { get; } = new();

    /// <summary>Whether an access is attached: its unmap notifications call back into the context, so an unmap then runs exclusively.</summary>
    public bool HasAccesses => _accesses.Count > 0;

    /// <summary>A pages object for a new mapping, from the pool when one waits there (under the IOVA lock).</summary>
    public Pages RentPages() => _freePages.Count > 0 ? _freePages.Pop() : new Pages();

    /// <summary>Pages no area holds any more let go of their file view and file, and wait in the pool (under the IOVA lock).</summary>
    public void ReleaseIfUnused(Pages pages)
    {
        if (pages.Areas != 0)
        {
            return;
        }

        pages.LetGo(PutFile);
        _freePages.Push(pages);
    }

    /// <summary>
    /// Whether this table may hold pages another table holds too (it was the source or the destination
    /// of an IOAS_COPY; it stays so): unmapping then changes state other tables share, so the unmap runs
    /// exclusively. Areas of one table sharing pages (a cut) need nothing more than its own IOVA lock.
    /// </summary>
    public bool SharesPages { get; set; }

    /// <summary>Reserves a range for <paramref name="range"/>'s owner (iopt_reserve_iova).</summary>
    public void AddReserved(ReservedRange range) => _reserved.Add(range);

    /// <summary>Drops every reservation <paramref name="owner"/> added.</summary>
    public void RemoveReserved(object owner) => _reserved.RemoveOwner(owner);

    /// <summary>A paging domain joins the table (iopt_table_add_domain).</summary>
    public void AddDomain(HwptPagingObject domain) => _domains.Add(domain);

    /// <summary>A paging domain leaves the table (iopt_table_remove_domain).</summary>
    public void RemoveDomain(HwptPagingObject domain) => _domains.Remove(domain);

    /// <summary>The automatic domain (the one VFIO attaches devices to by IOAS id), if any.</summary>
    public HwptPagingObject? AutomaticDomain() => _domains.Find(d => d.Automatic);

    /// <summary>Replaces the allowed ranges (iopt_set_allow_iova); <paramref name="sorted"/> must be sorted and checked.</summary>
    public void SetAllowed(List<(ulong Start, ulong Last)> sorted)
    {
        _allowed.Clear();
        _allowed.AddRange(sorted);
    }

    /// <summary>An access joins (iopt_add_access).</summary>
    public void AddAccess(AccessObject access) => _accesses.Add(access);

    /// <summary>An access leaves (iopt_remove_access).</summary>
    public void RemoveAccess(AccessObject access) => _accesses.Remove(access);

    /// <summary>
    /// The IOVA alignment the table enforces: PAGE_SIZE once a domain or a pinning access uses it or
    /// huge pages are off (the engine's IOMMU maps 4 KiB pages at least), else byte granular.
    /// </summary>
    public void RecomputeAlignment()
    {
        // As iopt_calculate_iova_alignment: PAGE_SIZE once huge pages are off, each domain's smallest page, PAGE_SIZE for an access.
        ulong alignment = !HugePages ? LinuxConstants.PageSize : 1UL;
        foreach (HwptPagingObject domain in _domains)
        {
            alignment = Math.Max(alignment, domain.Iommu.MinPageSize);
        }

        foreach (AccessObject access in _accesses)
        {
            alignment = Math.Max(alignment, access.Alignment);
        }

        Alignment = alignment;
    }

    /// <summary>Whether [start, last] may become reserved: no area inside it and no allowed range touching it (EADDRINUSE otherwise).</summary>
    public bool CanReserve(ulong start, ulong last)
    {
        if (IntersectsArea(start, last))
        {
            return false;
        }

        // Allowed ranges never overlap (ALLOW_IOVAS refuses that) and are sorted: only the last one
        // starting at or before `last` can touch the range.
        int lo = 0, hi = _allowed.Count;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) / 2);
            if (_allowed[mid].Start <= last)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo == 0 || _allowed[lo - 1].Last < start;
    }

    /// <summary>The area that maps <paramref name="iova"/>, if any.</summary>
    public bool TryGetArea(ulong iova, out Area area) => TryGetFirst(iova, iova, out area);

    /// <summary>The lowest area that intersects [<paramref name="start"/>, <paramref name="last"/>], if any.</summary>
    /// <remarks><paramref name="forChange"/>: see <see cref="AreaTree.TrySeek"/> (only under the IOVA lock, never from DMA).</remarks>
    public bool TryGetFirst(ulong start, ulong last, out Area area, bool forChange = false)
    {
        if (_areas.TrySeek(start, out AreaTree.Position at, forChange) && at.Area.Iova <= last)
        {
            area = at.Area;
            return true;
        }

        area = default;
        return false;
    }

    public bool IntersectsArea(ulong iova, ulong last) => TryGetFirst(iova, last, out _);

    public bool IntersectsReserved(ulong iova, ulong last) => _reserved.Intersects(iova, last);

    /// <summary>Called after a domain joined (<paramref name="joined"/>) or left: the first domain pins every area's pages, the last one unpins them.</summary>
    public void DomainsChanged(bool joined)
    {
        if (_domains.Count != (joined ? 1 : 0))
        {
            return;
        }

        foreach (Area area in _areas)
        {
            CountDomainArea(area, joined ? 1 : -1);
        }
    }

    /// <summary>An area joined (+1) or left (-1) the domains: its pages are pinned or unpinned, and charged for the pages that changed.</summary>
    private void CountDomainArea(Area area, int delta)
    {
        area.Pages.DomainAreas += delta;
        area.Pages.Pin(area.PagesOffset, area.Length, delta, Accounting);
    }

    /// <summary>Inserts an area that overlaps none (iopt_insert_area); domains pin its pages.</summary>
    public void Insert(Area area)
    {
        DmaLock.EnterWrite();
        try
        {
            _areas.Insert(area);
            if (_domains.Count > 0)
            {
                CountDomainArea(area, 1);
            }
        }
        finally
        {
            DmaLock.ExitWrite();
        }
    }

    /// <summary>Removes <paramref name="area"/> (it must be in the table); returns once no DMA can reach it any more.</summary>
    public void Remove(in Area area)
    {
        DmaLock.EnterWrite();
        try
        {
            if (!_areas.Remove(area.Iova))
            {
                throw new InvalidOperationException($"no area starts at 0x{area.Iova:X}");
            }

            Invalidate(area.Iova, area.Last);
            if (_domains.Count > 0)
            {
                CountDomainArea(area, -1);
            }
        }
        finally
        {
            DmaLock.ExitWrite();
        }
    }

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="old"/> was, in one write section: DMA in flight never sees the range unmapped.</summary>
    public void Replace(in Area old, Area replacement)
    {
        DmaLock.EnterWrite();
        try
        {
            Remove(old);
            Insert(replacement);
        }
        finally
        {
            DmaLock.ExitWrite();
        }
    }

    /// <summary>Destroyed with mappings still in it: the pages they leave behind let go of their files.</summary>
    public void Destroy()
    {
        foreach (Area area in _areas)
        {
            if (--area.Pages.Areas == 0)
            {
                area.Pages.LetGo(PutFile);
            }
        }
    }
}
