using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Mapping and unmapping (io_pagetable.c: iopt_map_pages, iopt_unmap_iova_range, iopt_cut_iova).
/// The ioctl layer checks its arguments and builds the pages; the table places, checks and inserts.
/// </summary>
internal sealed partial class IoPagetable
{
    /// <summary>
    /// Places <paramref name="length"/> bytes (fixed at <paramref name="iova"/>, or automatically by
    /// the first piece's source address) and inserts one area per piece at consecutive IOVAs, as
    /// iopt_alloc_area_pages and iopt_insert_area do. Every check runs before the first insertion, so
    /// nothing changes on failure. On success <paramref name="iova"/> is where the first piece went.
    /// </summary>
    public int Map(ReadOnlySpan<(Pages Pages, ulong Offset, ulong Length)> pieces, ulong length, bool fixedIova, bool readable, bool writable, ref ulong iova)
    {
        if ((length & (Alignment - 1)) != 0)
        {
            return Fail(Errno.EINVAL, $"length 0x{length:X} is not a multiple of the IOAS alignment 0x{Alignment:X}");
        }

        ulong source = pieces[0].Pages.SourceAddress + pieces[0].Offset;
        ulong placed = iova;
        int refused = fixedIova ? CheckFixed(iova, length) : Allocate(source, length, out placed);
        if (refused != 0)
        {
            return refused;
        }

        foreach ((Pages pages, ulong offset, ulong _) in pieces)
        {
            if (writable && !pages.Writable)
            {
                return Fail(Errno.EPERM, "the source pages are mapped read-only and cannot be mapped writeable");
            }

            ulong pageOffset = (pages.SourceAddress + offset) % LinuxConstants.PageSize;
            if ((pageOffset & (Alignment - 1)) != 0)
            {
                return Fail(Errno.EINVAL, $"the source's sub-page offset 0x{pageOffset:X} is not a multiple of the IOAS alignment 0x{Alignment:X}");
            }
        }

        if (_domains.Count > 0 && FillRefusal(pieces, readable, writable) is int unfillable)
        {
            return unfillable;
        }

        foreach ((Pages _, ulong _, ulong _) in pieces)
        {
            if (Injection?.ShouldFail("area.alloc") == true)
            {
                return Fail(Errno.ENOMEM, "injected failure: area.alloc");
            }
        }

        ulong at = placed;
        foreach ((Pages pages, ulong offset, ulong pieceLength) in pieces)
        {
            pages.Areas++;
            Insert(new Area(at, at + (pieceLength - 1), pages, offset, readable, writable));
            at += pieceLength;
        }

        iova = placed;
        return 0;
    }

    /// <summary>
    /// With a domain attached the new pages are pinned and mapped now (iopt_fill_domains_pages): what
    /// pinning or the page table would refuse, in the kernel's order.
    /// </summary>
    private int? FillRefusal(ReadOnlySpan<(Pages Pages, ulong Offset, ulong Length)> pieces, bool readable, bool writable)
    {
        foreach ((Pages pages, ulong offset, ulong pieceLength) in pieces)
        {
            // Memory the engine does not know is EFAULT (pin_user_pages); a device's BAR is never pinned.
            if (pages.FileDescriptor is null && Memory?.ContainsPinnable(pages.UserVa + offset, pieceLength, pages.Writable) != true)
            {
                return Fail(Errno.EFAULT, Memory?.Contains(pages.UserVa + offset, pieceLength) == true
                    ? $"memory at 0x{pages.UserVa + offset:X} is a device's BAR: iommufd does not pin peer-to-peer memory"
                    : $"user memory at 0x{pages.UserVa + offset:X} cannot be pinned (not memory the engine knows)");
            }
        }

        // A file that is not shmem, or a range past its end, is EINVAL (memfd_pin_folios).
        foreach ((Pages pages, ulong offset, ulong pieceLength) in pieces)
        {
            if (pages.FileRefusesPin(offset, pieceLength))
            {
                return Fail(Errno.EINVAL, $"file range [0x{pages.FileOffset + offset:X}, +0x{pieceLength:X}) cannot be pinned: not shmem or hugetlbfs, or past the file's end (memfd_pin_folios)");
            }
        }

        if (ChargeError(pieces) is int overLimit)
        {
            return overLimit;
        }

        // The page table refuses a mapping with neither read nor write (only the VFIO compat layer
        // lets such a mapping through to here).
        return readable || writable ? null : Fail(Errno.EINVAL, "a mapping with neither read nor write cannot go into a domain");
    }

    /// <summary>Mapping into a table with domains pins the new pages now: over RLIMIT_MEMLOCK is ENOMEM, before anything changes.</summary>
    private int? ChargeError(ReadOnlySpan<(Pages Pages, ulong Offset, ulong Length)> pieces)
    {
        // The areas pin for real when they are inserted.
        (long user, long mm) = Pages.NewCharge(pieces);

        if (Injection?.ShouldFail("pages.account") == true || Accounting?.Fits(user, mm) == false)
        {
            return Fail(Errno.ENOMEM, $"pinning {user + mm} more pages would pass RLIMIT_MEMLOCK ({Accounting?.LimitPages} pages)");
        }

        return null;
    }

    /// <summary>
    /// Removes the areas inside [iova, last], lowest first (iopt_unmap_iova_range). An area that
    /// sticks out of the range is never split: the walk stops there with ENOENT, keeping the areas it
    /// already removed (as the kernel does); an area an access locked stops it with EBUSY. Returns the
    /// bytes unmapped.
    /// </summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public ulong Unmap(ulong iova, ulong last, out int rc)
    {
        ulong unmapped = 0;
        rc = 0;
        while (TryGetFirst(iova, last, out Area area, forChange: true))
        {
            // Spans, not the lists' enumerators: NativeAOT calls a shared generic MoveNext per step,
            // a cost every unmap paid for lists that are nearly always empty.
            foreach (AccessObject access in CollectionsMarshal.AsSpan(_accesses))
            {
                if (access.Locks(area.Iova, area.Last))
                {
                    rc = Fail(Errno.EBUSY, $"the mapping [0x{area.Iova:X}, 0x{area.Last:X}] is locked by access {access.Id} (a HW queue's pages)");
                    return unmapped;
                }
            }

            if (area.Iova < iova || area.Last > last)
            {
                rc = Fail(Errno.ENOENT, $"the mapping [0x{area.Iova:X}, 0x{area.Last:X}] is only partly inside the range; native iommufd never splits a mapping");
                return unmapped;
            }

            if (_accesses.Count != 0)
            {
                // The list enumerator stays here: a notification may reach back and change the accesses.
                foreach (AccessObject access in _accesses)
                {
                    access.NotifyUnmap(area.Iova, area.Last);
                }
            }

            Remove(area);
            foreach (HwptPagingObject domain in CollectionsMarshal.AsSpan(_domains))
            {
                domain.Dirty.Clear(area.Iova, area.Last);     // an unmapped IOVA reports nothing
            }

            area.Pages.Areas--;
            if (PoolsPages)
            {
                ReleaseIfUnused(area.Pages);
            }
            unmapped += area.Length;
            if (area.Last >= last)
            {
                break;      // areas never overlap: nothing else starts inside the range (one search, not two, per single unmap)
            }
        }

        return unmapped;
    }

    /// <summary>
    /// iopt_area_split (iopt_cut_iova, the VFIO compat layer's hole punching): the area holding
    /// <paramref name="iova"/> ends there afterwards and another starts at iova + 1. Nothing happens when
    /// no area holds it or it is the area's first or last byte (the kernel's own check, so a one-byte
    /// head is never cut off). Then, in the kernel's order: a dma-buf's area cannot be split
    /// (EOPNOTSUPP); the new start must be aligned in IOVA and in the source (EINVAL); no access may
    /// have pinned the area (EINVAL).
    /// </summary>
    public int? Split(ulong iova)
    {
        if (!TryGetArea(iova, out Area area) || iova == area.Iova || iova == area.Last)
        {
            return null;
        }

        if (area.Pages.DmaBuf is not null)
        {
            return Fail(Errno.EOPNOTSUPP, $"the mapping at 0x{area.Iova:X} is a dma-buf's, which is never split");
        }

        ulong at = iova + 1;
        if ((at & (Alignment - 1)) != 0 || ((area.Pages.SourceAddress + area.PagesOffset + (at - area.Iova)) & (Alignment - 1)) != 0)
        {
            return Fail(Errno.EINVAL, $"0x{at:X} is not aligned to 0x{Alignment:X}; the mapping cannot be split there");
        }

        foreach (AccessObject access in _accesses)
        {
            if (access.Pins.Any(p => p.Iova <= area.Last && area.Iova <= p.Last))
            {
                return Fail(Errno.EINVAL, "an access has pinned the mapping; it cannot be split");
            }
        }

        DmaLock.EnterWrite();
        try
        {
            Remove(area);
            Insert(area with { Last = at - 1 });
            Insert(area with { Iova = at, PagesOffset = area.PagesOffset + (at - area.Iova) });
            area.Pages.Areas++;
        }
        finally
        {
            DmaLock.ExitWrite();
        }

        return null;
    }
}
