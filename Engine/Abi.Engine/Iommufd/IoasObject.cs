using System.Runtime.InteropServices;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// An I/O address space: sorted, non-overlapping areas; reserved and allowed ranges; the IOVA
/// alignment. Ranges are inclusive (<c>last</c>), stated once here: a range ending at 2^64-1 has
/// no representable "end", so nothing here computes <c>last + 1</c> without checking.
/// </summary>
internal sealed partial class IoasObject : IommufdObject
{
    /// <summary>The largest automatic IOVA alignment: the THP size (2 MiB), as on a kernel built with transparent huge pages.</summary>
    public const ulong MaxAutoAlignment = 2 * 1024 * 1024;

    public override ObjectKind Kind => ObjectKind.Ioas;

    /// <summary>Areas sorted by <see cref="Area.Iova"/>.</summary>
    public List<Area> Areas { get; } = [];

    private readonly List<ReservedRange> _reserved = [];
    private readonly List<HwptPagingObject> _domains = [];
    private readonly List<(ulong Start, ulong Last)> _allowed = [];

    /// <summary>Reserved ranges (inclusive) with their owners, in no particular order; changed through <see cref="AddReserved"/> and <see cref="RemoveReserved"/>.</summary>
    public ReadOnlySpan<ReservedRange> Reserved => CollectionsMarshal.AsSpan(_reserved);

    /// <summary>Paging HWPTs (domains) built on this IOAS, each mirroring every area; changed through <see cref="AddDomain"/> and <see cref="RemoveDomain"/>.</summary>
    public ReadOnlySpan<HwptPagingObject> Domains => CollectionsMarshal.AsSpan(_domains);

    /// <summary>Allowed ranges from ALLOW_IOVAS (inclusive), sorted; empty means unrestricted. Replaced whole by <see cref="SetAllowed"/>.</summary>
    public ReadOnlySpan<(ulong Start, ulong Last)> Allowed => CollectionsMarshal.AsSpan(_allowed);

    /// <summary>Reserves a range for <paramref name="range"/>'s owner (iopt_reserve_iova).</summary>
    public void AddReserved(ReservedRange range) => _reserved.Add(range);

    /// <summary>A paging domain joins the IOAS (iopt_table_add_domain).</summary>
    public void AddDomain(HwptPagingObject domain) => _domains.Add(domain);

    /// <summary>A paging domain leaves the IOAS (iopt_table_remove_domain).</summary>
    public void RemoveDomain(HwptPagingObject domain) => _domains.Remove(domain);

    /// <summary>The IOAS's automatic domain (the one VFIO attaches devices to by IOAS id), if any.</summary>
    public HwptPagingObject? AutomaticDomain() => _domains.Find(d => d.Automatic);

    /// <summary>Replaces the allowed ranges (iopt_set_allow_iova); <paramref name="sorted"/> must be sorted and checked.</summary>
    public void SetAllowed(List<(ulong Start, ulong Last)> sorted)
    {
        _allowed.Clear();
        _allowed.AddRange(sorted);
    }

    public ulong Alignment { get; set; } = 1;

    public bool HugePages { get; set; } = true;

    /// <summary>Accesses (emulated devices) attached to this IOAS.</summary>
    public List<AccessObject> Accesses { get; } = [];

    /// <summary>
    /// The IOVA alignment the IOAS enforces: PAGE_SIZE once a domain or a pinning access uses it or
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

        foreach (AccessObject access in Accesses)
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

        foreach ((ulong s, ulong l) in _allowed)
        {
            if (s <= last && start <= l)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The IOVA that is not reserved: the complement of the reserved ranges over [0, 2^64-1],
    /// ascending, into <paramref name="destination"/> (room for <c>Reserved.Count + 1</c> ranges);
    /// returns how many there are.
    /// </summary>
    public int Holes(Span<(ulong Start, ulong Last)> destination)
    {
        Span<(ulong Start, ulong Last)> reserved = _reserved.Count <= 32 ? stackalloc (ulong, ulong)[_reserved.Count] : new (ulong, ulong)[_reserved.Count];
        for (int r = 0; r < reserved.Length; r++)
        {
            reserved[r] = (_reserved[r].Start, _reserved[r].Last);
        }

        reserved.Sort();
        int count = 0;
        ulong cursor = 0;
        foreach ((ulong start, ulong last) in reserved)
        {
            if (last < cursor)
            {
                continue;
            }

            if (start > cursor)
            {
                destination[count++] = (cursor, start - 1);
            }

            if (last == ulong.MaxValue)
            {
                return count;
            }

            cursor = Math.Max(cursor, last + 1);
        }

        destination[count++] = (cursor, ulong.MaxValue);
        return count;
    }

    /// <summary>Drops every reservation <paramref name="owner"/> added.</summary>
    public void RemoveReserved(object owner) => _reserved.RemoveAll(r => ReferenceEquals(r.Owner, owner));

    /// <summary>The index of the first area whose last ≥ <paramref name="iova"/>.</summary>
    public int LowerBound(ulong iova)
    {
        int lo = 0, hi = Areas.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (Areas[mid].Last < iova)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>The area that maps <paramref name="iova"/>, if any.</summary>
    public bool TryGetArea(ulong iova, out Area area)
    {
        int i = LowerBound(iova);
        bool found = i < Areas.Count && Areas[i].Iova <= iova;
        area = found ? Areas[i] : default;
        return found;
    }

    public bool IntersectsArea(ulong iova, ulong last)
    {
        int i = LowerBound(iova);
        return i < Areas.Count && Areas[i].Iova <= last;
    }

    public bool IntersectsReserved(ulong iova, ulong last)
    {
        foreach ((ulong start, ulong end) in _reserved)
        {
            if (start <= last && iova <= end)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Where pins are charged; set by the context. Null for tables that account by themselves (type1).</summary>
    public PinAccounting? Accounting { get; set; }

    /// <summary>
    /// The pages a first domain would newly pin, per mode (user, mm): what must fit under
    /// RLIMIT_MEMLOCK before a domain is added (0, 0 when a domain exists already).
    /// </summary>
    public (long User, long Mm) ChargeForFirstDomain()
    {
        long user = 0, mm = 0;
        if (_domains.Count > 0)
        {
            return (0, 0);
        }

        // What the areas would newly pin together (two areas over the same pages pin them once):
        // pinned for the count, then given back.
        foreach (Area area in Areas)
        {
            AddCharge(area.Pages.Mode, area.Pages.Pin(area.PagesOffset, area.Length, 1), ref user, ref mm);
        }

        foreach (Area area in Areas)
        {
            area.Pages.Pin(area.PagesOffset, area.Length, -1);
        }

        return (user, mm);
    }

    /// <summary>Called after a domain joined (<paramref name="joined"/>) or left: the first domain pins every area's pages, the last one unpins them.</summary>
    public void DomainsChanged(bool joined)
    {
        if (_domains.Count != (joined ? 1 : 0))
        {
            return;
        }

        foreach (Area area in Areas)
        {
            CountDomainArea(area, joined ? 1 : -1);
        }
    }

    public static void AddCharge(AccountingMode mode, long pages, ref long user, ref long mm)
    {
        if (mode == AccountingMode.User)
        {
            user += pages;
        }
        else if (mode == AccountingMode.Mm)
        {
            mm += pages;
        }
    }

    /// <summary>An area joined (+1) or left (-1) the domains: its pages are pinned or unpinned, and charged for the pages that changed.</summary>
    private void CountDomainArea(Area area, int delta)
    {
        Pages pages = area.Pages;
        pages.DomainAreas += delta;
        long changed = pages.Pin(area.PagesOffset, area.Length, delta);
        Accounting?.Charge(pages.Mode, changed);
    }

    public void Insert(Area area)
    {
        DmaLock.EnterWriteLock();
        try
        {
            Areas.Insert(LowerBound(area.Iova), area);
            if (_domains.Count > 0)
            {
                CountDomainArea(area, 1);
            }
        }
        finally
        {
            DmaLock.ExitWriteLock();
        }
    }

    /// <summary>Removes area <paramref name="index"/>; returns once no DMA can reach it any more.</summary>
    public void RemoveAt(int index)
    {
        DmaLock.EnterWriteLock();
        try
        {
            Area area = Areas[index];
            Areas.RemoveAt(index);
            Invalidate();
            if (_domains.Count > 0)
            {
                CountDomainArea(area, -1);
            }
        }
        finally
        {
            DmaLock.ExitWriteLock();
        }
    }

    /// <summary>How a mapping's file reference is dropped when the IOAS goes with mappings in it (the kernel's deferred fput).</summary>
    public Action<EngineFile>? PutFile { get; init; }

    /// <summary>Destroyed with mappings still in it: the pages they leave behind let go of their files.</summary>
    public override void Destroyed()
    {
        foreach (Area area in Areas)
        {
            if (--area.Pages.Areas == 0 && area.Pages.File is EngineFile file)
            {
                area.Pages.File = null;
                PutFile?.Invoke(file);
            }
        }

        DmaLock.Dispose();
    }

    /// <summary>Checks a fixed placement (iopt_check_iova): alignment EINVAL, overflow EOVERFLOW, reserved EINVAL, overlap EEXIST.</summary>
    public Errno CheckFixed(ulong iova, ulong length, out string reason)
    {
        if ((iova & (Alignment - 1)) != 0)
        {
            reason = $"iova 0x{iova:X} is not aligned to the IOAS alignment 0x{Alignment:X}";
            return Errno.EINVAL;
        }

        if (iova + (length - 1) < iova)
        {
            reason = $"iova 0x{iova:X} + length 0x{length:X} wraps past 2^64";
            return Errno.EOVERFLOW;
        }

        ulong last = iova + (length - 1);
        if (IntersectsReserved(iova, last))
        {
            reason = $"[0x{iova:X}, 0x{last:X}] touches a reserved IOVA range";
            return Errno.EINVAL;
        }

        if (IntersectsArea(iova, last))
        {
            reason = $"[0x{iova:X}, 0x{last:X}] overlaps an existing mapping";
            return Errno.EEXIST;
        }

        reason = string.Empty;
        return Errno.None;
    }

    /// <summary>
    /// Automatic placement (iopt_alloc_iova): alignment is the power of two covering the length,
    /// reduced to the source address's natural alignment, capped at 2 MiB; the lowest hole that fits,
    /// inside the allowed ranges or [PAGE_SIZE, 2^64 - PAGE_SIZE - 1]; the IOVA keeps the source's
    /// sub-page offset.
    /// </summary>
    public Errno Allocate(ulong sourceAddress, ulong length, out ulong iova, out string reason)
    {
        iova = 0;
        if (length == 0 || length >= ulong.MaxValue / 2)
        {
            reason = $"length 0x{length:X} cannot be placed automatically";
            return Errno.EOVERFLOW;
        }

        ulong alignment = RoundUpPowerOfTwo(length);
        if (sourceAddress != 0)
        {
            alignment = Math.Min(alignment, 1UL << System.Numerics.BitOperations.TrailingZeroCount(sourceAddress));
        }

        alignment = Math.Min(alignment, MaxAutoAlignment);
        if (alignment < Alignment)
        {
            reason = $"the source address allows alignment 0x{alignment:X}, below the IOAS alignment 0x{Alignment:X}";
            return Errno.EINVAL;
        }

        ulong pageOffset = sourceAddress % LinuxConstants.PageSize;
        const ulong SpaceStart = LinuxConstants.PageSize;
        const ulong SpaceLast = ulong.MaxValue - LinuxConstants.PageSize;
        // io_pagetable.c: iopt_alloc_iova aligns each allowed span's start first (__alloc_iova_check_used),
        // then walks the holes from that aligned start: a hole below it is never considered.
        if (_allowed.Count == 0)
        {
            ulong lo = SpaceStart;
            if (CheckRange(ref lo, SpaceLast, length, alignment, pageOffset) && FindHole(lo, SpaceLast, length, alignment, pageOffset, out iova))
            {
                reason = string.Empty;
                return Errno.None;
            }
        }
        else
        {
            // The span iterator sees touching allowed ranges as one span.
            for (int i = 0; i < _allowed.Count; i++)
            {
                (ulong start, ulong last) = _allowed[i];
                while (i + 1 < _allowed.Count && last != ulong.MaxValue && _allowed[i + 1].Start == last + 1)
                {
                    last = _allowed[++i].Last;
                }

                ulong lo = Math.Max(start, SpaceStart), hi = Math.Min(last, SpaceLast);
                if (lo <= hi && CheckRange(ref lo, hi, length, alignment, pageOffset) && FindHole(lo, hi, length, alignment, pageOffset, out iova))
                {
                    reason = string.Empty;
                    return Errno.None;
                }
            }
        }

        reason = $"no free IOVA range of 0x{length:X} bytes aligned to 0x{alignment:X}";
        return Errno.ENOSPC;
    }

    /// <summary>The lowest aligned start in [lo, hi] that avoids reserved ranges and areas and fits the length.</summary>
    private bool FindHole(ulong lo, ulong hi, ulong length, ulong alignment, ulong pageOffset, out ulong iova)
    {
        // Walk the holes between used ranges (areas and reservations) in ascending order.
        ulong cursor = lo;
        while (true)
        {
            (ulong usedStart, ulong usedLast) = NextUsed(cursor, hi);
            ulong holeLast = usedStart == ulong.MaxValue && usedLast == 0 ? hi : usedStart - 1;
            if (usedStart > cursor || (usedStart == ulong.MaxValue && usedLast == 0))
            {
                ulong start = cursor;
                if (CheckRange(ref start, Math.Min(holeLast, hi), length, alignment, pageOffset))
                {
                    iova = start;
                    return true;
                }
            }

            if (usedStart == ulong.MaxValue && usedLast == 0)
            {
                iova = 0;
                return false;
            }

            if (usedLast >= hi)
            {
                iova = 0;
                return false;
            }

            cursor = usedLast + 1;
        }
    }

    /// <summary>The used range (area or reservation) with the lowest start that ends at or after <paramref name="from"/> and starts at or before <paramref name="hi"/>; (MaxValue, 0) if none.</summary>
    private (ulong Start, ulong Last) NextUsed(ulong from, ulong hi)
    {
        ulong bestStart = ulong.MaxValue, bestLast = 0;
        bool found = false;
        int i = LowerBound(from);
        if (i < Areas.Count && Areas[i].Iova <= hi)
        {
            bestStart = Math.Max(Areas[i].Iova, from);
            bestLast = Areas[i].Last;
            found = true;
        }

        foreach ((ulong start, ulong last) in _reserved)
        {
            if (last >= from && start <= hi)
            {
                ulong s = Math.Max(start, from);
                if (!found || s < bestStart)
                {
                    bestStart = s;
                    bestLast = last;
                    found = true;
                }
            }
        }

        return found ? (bestStart, bestLast) : (ulong.MaxValue, 0);
    }

    /// <summary>The kernel's __alloc_iova_check_range: align up, add the page offset, check it fits before <paramref name="last"/>.</summary>
    private static bool CheckRange(ref ulong start, ulong last, ulong length, ulong alignment, ulong pageOffset)
    {
        if (start + (alignment - 1) < start)
        {
            return false;
        }

        ulong aligned = ((start + (alignment - 1)) & ~(alignment - 1)) | pageOffset;
        if (aligned >= last || last - aligned < length - 1)
        {
            return false;
        }

        start = aligned;
        return true;
    }

    private static ulong RoundUpPowerOfTwo(ulong value) => System.Numerics.BitOperations.RoundUpToPowerOf2(value);
}
