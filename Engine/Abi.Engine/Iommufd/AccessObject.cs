using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// An access (drivers/iommu/iommufd/device.c: iommufd_access_create, iommufd_access_pin_pages): how an emulated, mdev-style device reaches an IOAS in software. It attaches
/// to an IOAS only, reads and writes through it (<see cref="Rw"/>), and may pin IOVA ranges; an
/// unmap over a pinned range first tells the device (<see cref="Unmapped"/>), which must unpin, and
/// then proceeds. While an access is attached its IOAS cannot be destroyed and its IOVA alignment
/// is at least PAGE_SIZE.
/// </summary>
internal sealed class AccessObject(IommufdFile owner, Action<ulong, ulong>? unmapped) : IommufdObject
{
    private readonly List<(ulong Iova, ulong Last)> _pins = [];

    // What each pin holds: its pieces of the areas' pages (pages already pinned by a domain or another
    // pin are shared, and charged once, as the kernel's iopt_pages counts distinct pinned pages).
    private readonly List<(Pages Pages, ulong Offset, ulong Length)[]> _held = [];

    public override ObjectKind Kind => ObjectKind.Access;

    public IoasObject? Ioas { get; private set; }

    /// <summary>Called with (iova, length) when an unmap covers pinned pages; the device must unpin them.</summary>
    public Action<ulong, ulong>? Unmapped { get; } = unmapped;

    public IReadOnlyList<(ulong Iova, ulong Last)> Pins => _pins;

    /// <summary>The context the access belongs to.</summary>
    public IommufdFile Owner => owner;

    /// <summary>
    /// An internal access (a HW queue's): it has no unmap callback, so the areas under its pins are
    /// locked instead; IOMMU_IOAS_UNMAP of them is EBUSY until it unpins.
    /// </summary>
    public bool LocksAreas { get; init; }

    /// <summary>The access locks an area overlapping [iova, last].</summary>
    public bool Locks(ulong iova, ulong last)
    {
        if (LocksAreas)
        {
            foreach ((ulong start, ulong end) in _pins)
            {
                if (start <= last && iova <= end)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The IOVA alignment the access imposes on its IOAS: PAGE_SIZE for a driver that pins pages, 1 for one that only reads and writes.</summary>
    public ulong Alignment { get; init; } = LinuxConstants.PageSize;

    /// <summary>Attaches to (or moves to) <paramref name="ioasId"/>. A HWPT id, or anything else, is ENOENT.</summary>
    public int Attach(uint ioasId)
    {
        using (owner.EnterExclusive())
        {
            if (owner.Objects.Get<IoasObject>(ioasId, ObjectKind.Ioas) is not IoasObject ioas)
            {
                return Fail(Errno.ENOENT, $"{ioasId} is not an IOAS");
            }

            // io_pagetable.c: iopt_add_access, then iopt_calculate_iova_alignment: a larger alignment
            // must fit every area's IOVA, length and sub-page offset (EADDRINUSE).
            if (Alignment > ioas.Iopt.Alignment)
            {
                foreach (Area area in ioas.Iopt.Areas)
                {
                    if (area.Iova % Alignment != 0 || area.Length % Alignment != 0 || (area.Pages.SourceAddress + area.PagesOffset) % Alignment != 0)
                    {
                        return Fail(Errno.EADDRINUSE, $"the mapping at 0x{area.Iova:X} is not aligned to 0x{Alignment:X}, which the access needs");
                    }
                }
            }

            DetachLocked();
            Ioas = ioas;
            ioas.Users++;
            ioas.Iopt.AddAccess(this);
            ioas.Iopt.RecomputeAlignment();
            return 0;
        }
    }

    /// <summary>Detaches; silent when not attached. Every pin is dropped first.</summary>
    public void Detach()
    {
        using (owner.EnterExclusive())
        {
            DetachLocked();
        }
    }

    /// <summary>
    /// Copies between the IOVA range and <paramref name="buffer"/>: any alignment; ENOENT for a hole,
    /// EPERM for a write to a read-only mapping. <paramref name="slowPath"/> is the selftest's
    /// __IOMMUFD_ACCESS_RW_SLOW_PATH: the copy goes as from another process, through pins.
    /// </summary>
    public int Rw(ulong iova, Span<byte> buffer, bool write, bool slowPath = false)
    {
        if (buffer.IsEmpty)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        if (iova + ((ulong)buffer.Length - 1) < iova)
        {
            return Fail(Errno.EOVERFLOW, "iova + length wraps");
        }

        IoasObject? ioas = Ioas;
        if (ioas is null)
        {
            return Fail(Errno.ENOENT, "the access is not attached");
        }

        if (slowPath && !write && SlowReadRefusal(ioas.Iopt, iova, iova + ((ulong)buffer.Length - 1)) is int refused)
        {
            return refused;
        }

        // iopt_pages_rw_access: a dma-buf's area is EINVAL once the walk reaches it, the areas before
        // it copied; a hole or a missing permission before it is answered by the copy.
        if (DmaBufReached(ioas.Iopt, iova, iova + ((ulong)buffer.Length - 1), write) is ulong stop)
        {
            int copied = stop == iova ? 0 : Copy(ioas, iova, buffer[..(int)(stop - iova)], write);
            return copied != 0 ? copied : Fail(Errno.EINVAL, $"the mapping at 0x{stop:X} is a dma-buf's, which accesses cannot reach");
        }

        return Copy(ioas, iova, buffer, write);
    }

    /// <summary>The copy itself, through the table's translation; a refused page's fault says the errno.</summary>
    private static int Copy(IoasObject ioas, ulong iova, Span<byte> buffer, bool write)
    {
        long faults = ioas.Iopt.Faults.Count;
        bool ok = write ? ioas.Iopt.DmaWrite(iova, buffer) : ioas.Iopt.DmaRead(iova, buffer);
        if (ok)
        {
            return 0;
        }

        // pages.c: iopt_pages_rw_access copies through the mapping's user memory or the file's folios;
        // memory that is not there is EFAULT, a file that cannot be pinned EINVAL, a hole in the IOVA ENOENT.
        IommuFault fault = ioas.Iopt.Faults.Last!.Value;
        return fault.Reason switch
        {
            IommuFaultReason.Permission => Fail(Errno.EPERM, $"0x{fault.Iova:X} is mapped without {(write ? "write" : "read")} permission"),
            IommuFaultReason.UnknownMemory when ioas.Iopt.TryGetArea(fault.Iova, out Area area) && area.Pages.FileRefusesPin(area.PagesOffset, area.Length)
                => Fail(Errno.EINVAL, $"the file behind 0x{fault.Iova:X} is not shmem, or ends before the mapping does (memfd_pin_folios)"),
            IommuFaultReason.UnknownMemory => Fail(Errno.EFAULT, $"the memory behind 0x{fault.Iova:X} cannot be reached"),
            _ => Fail(Errno.ENOENT, $"0x{fault.Iova:X} is not mapped ({faults} earlier faults)"),
        };
    }

    /// <summary>
    /// What a read on the slow path refuses that the copy does not (pages.c: iopt_pages_rw_access).
    /// A piece of user memory within one page is pinned for reading only (iopt_pages_rw_page, FOLL_WRITE
    /// for a write); a piece across pages goes through the pfn reader (iopt_pages_rw_slow), which takes
    /// pages a domain or an access holds as they are and pins the others with FOLL_WRITE whenever the
    /// mapping's pages are writable, so read-only memory under a WRITEABLE mapping is EFAULT there
    /// (seed 20101, 2000 calls: EFAULT on the kernel, 0 on the engine). Areas are taken in IOVA order as
    /// iommufd_access_rw takes them; a hole or a mapping without read stops the walk, and the copy
    /// answers those (ENOENT, EPERM). Under the context's exclusive section, like the selftest's call.
    /// </summary>
    private static int? SlowReadRefusal(IoPagetable iopt, ulong iova, ulong last)
    {
        const ulong Page = LinuxConstants.PageSize;
        ulong cursor = iova;
        foreach (Area area in iopt.AreasIn(iova, last))
        {
            if (area.Iova > cursor || !area.Readable)
            {
                return null;
            }

            ulong pieceLast = Math.Min(last, area.Last);
            Pages pages = area.Pages;
            if (pages.DmaBuf is not null)
            {
                return null;                        // the walk stops there (EINVAL, see Rw)
            }

            long first = (long)(area.SourceOf(cursor) / Page), final = (long)(area.SourceOf(pieceLast) / Page);
            if (pages.FileDescriptor is null && pages.Writable && first != final)
            {
                for (long page = first; page <= final; page++)
                {
                    if (!pages.Pins.IsPinned(page) && iopt.Memory?.ContainsPinnable((ulong)page * Page, Page, write: true) != true)
                    {
                        return Fail(Errno.EFAULT, $"the user page at 0x{(ulong)page * Page:X} behind 0x{area.Iova:X} cannot be pinned for writing (the mapping is writable; iopt_pages_rw_slow pins with FOLL_WRITE)");
                    }
                }
            }

            if (pieceLast == last)
            {
                return null;
            }

            cursor = pieceLast + 1;
        }

        return null;
    }

    /// <summary>The IOVA of the first dma-buf area a walk from <paramref name="iova"/> reaches through contiguous areas it may access, if any.</summary>
    private static ulong? DmaBufReached(IoPagetable iopt, ulong iova, ulong last, bool write)
    {
        ulong cursor = iova;
        foreach (Area area in iopt.AreasIn(iova, last))
        {
            if (area.Iova > cursor || (write ? !area.Writable : !area.Readable))
            {
                return null;
            }

            if (area.Pages.DmaBuf is not null)
            {
                return cursor;
            }

            if (area.Last >= last)
            {
                return null;
            }

            cursor = area.Last + 1;
        }

        return null;
    }

    /// <summary>Pins the pages under [iova, iova + length): fully mapped, writable when <paramref name="write"/>; any alignment, as iommufd_access_pin_pages (VFIO aligns down itself).</summary>
    public int Pin(ulong iova, ulong length, bool write)
    {
        using (owner.EnterExclusive())
        {
            if (length == 0)
            {
                return Fail(Errno.EINVAL, "length is zero");
            }

            if (iova + (length - 1) < iova)
            {
                return Fail(Errno.EOVERFLOW, "iova + length wraps");
            }

            if (Ioas is not IoasObject ioas)
            {
                return Fail(Errno.ENOENT, "the access is not attached");
            }

            ulong last = iova + (length - 1);
            ulong cursor = iova;
            int count = 0;
            bool covered = false;
            foreach (Area at in ioas.Iopt.AreasIn(iova, last))
            {
                if (at.Iova > cursor)
                {
                    break;
                }

                // device.c: iopt_area_contig_is_aligned: the pinned range starts on a page of the source,
                // and an area that the range runs past ends on one (EINVAL), before the protection (EPERM).
                ulong source = at.Pages.SourceAddress + at.PagesOffset;
                if ((source + (cursor - at.Iova)) % LinuxConstants.PageSize != 0
                    || (at.Last < last && (source + at.Length - 1) % LinuxConstants.PageSize != LinuxConstants.PageSize - 1))
                {
                    return Fail(Errno.EINVAL, $"the range does not fall on whole pages of the mapping at 0x{at.Iova:X}");
                }

                if (write ? !at.Writable : !at.Readable)
                {
                    return Fail(Errno.EPERM, $"the mapping at 0x{at.Iova:X} is not {(write ? "writable" : "readable")}");
                }

                // iopt_area_add_access refuses a dma-buf's pages (EINVAL), then pins what no domain holds
                // yet: user memory that is not there is EFAULT (pin_user_pages), a file that is not shmem,
                // or past its end, EINVAL (memfd_pin_folios).
                if (at.Pages.DmaBuf is not null)
                {
                    return Fail(Errno.EINVAL, $"the mapping at 0x{at.Iova:X} is a dma-buf's, which accesses cannot pin");
                }

                if (at.Pages.DomainAreas == 0 && PinRefusal(at, cursor, Math.Min(at.Last, last)) is int refused)
                {
                    return refused;
                }

                count++;
                if (at.Last >= last)
                {
                    covered = true;
                    break;
                }

                cursor = at.Last + 1;
            }

            if (!covered)
            {
                return Fail(Errno.ENOENT, $"0x{cursor:X} is not mapped");
            }

            if (owner.Kernel.Faults.ShouldFail("access.pin"))
            {
                return Fail(Errno.ENOMEM, "injected failure: access.pin");
            }

            // The pieces of each area under [iova, last], in its pages' own offsets.
            var pieces = new (Pages Pages, ulong Offset, ulong Length)[count];
            int next = 0;
            foreach (Area area in ioas.Iopt.AreasIn(iova, last))
            {
                ulong from = Math.Max(area.Iova, iova), to = Math.Min(area.Last, last);
                pieces[next++] = (area.Pages, area.PagesOffset + (from - area.Iova), to - from + 1);
            }

            PinAccounting accounting = owner.Kernel.Accounting;
            (long user, long mm) = Pages.NewCharge(pieces);
            if (user + mm > 0 && (owner.Kernel.Faults.ShouldFail("pages.account") || !accounting.Fits(user, mm)))
            {
                return Fail(Errno.ENOMEM, $"pinning {user + mm} pages would pass RLIMIT_MEMLOCK ({accounting.LimitPages} pages)");
            }

            foreach ((Pages pages, ulong offset, ulong size) in pieces)
            {
                pages.Pin(offset, size, 1, accounting);
            }

            _pins.Add((iova, last));
            _held.Add(pieces);
            return 0;
        }
    }

    private int? PinRefusal(Area area, ulong from, ulong to)
    {
        Pages pages = area.Pages;
        ulong offset = area.PagesOffset + (from - area.Iova), length = to - from + 1;
        if (pages.FileDescriptor is null)
        {
            return owner.Kernel.Memory.ContainsPinnable(pages.UserVa + offset, length, pages.Writable)
                ? null
                : Fail(Errno.EFAULT, $"the memory behind the mapping at 0x{area.Iova:X} cannot be pinned");
        }

        return pages.FileRefusesPin(offset, length)
            ? Fail(Errno.EINVAL, $"the file behind the mapping at 0x{area.Iova:X} cannot be pinned there (not shmem, or past its end)")
            : null;
    }

    /// <summary>Unpins a range pinned before.</summary>
    public void Unpin(ulong iova, ulong length)
    {
        using (owner.EnterExclusive())
        {
            int index = _pins.IndexOf((iova, iova + (length - 1)));
            if (index >= 0)
            {
                Release(_held[index]);
                _pins.RemoveAt(index);
                _held.RemoveAt(index);
            }
        }
    }

    /// <summary>Unpins a pin's pieces and gives back the charge of the pages nobody pins any more.</summary>
    private void Release((Pages Pages, ulong Offset, ulong Length)[] pieces)
    {
        foreach ((Pages pages, ulong offset, ulong size) in pieces)
        {
            pages.Pin(offset, size, -1, owner.Kernel.Accounting);
        }
    }

    /// <summary>Tells the device about an unmap of [iova, last] if it pinned any of it (called by the IOAS with the context lock held).</summary>
    internal void NotifyUnmap(ulong iova, ulong last)
    {
        if (_pins.Exists(p => p.Iova <= last && iova <= p.Last))
        {
            Unmapped?.Invoke(iova, last - iova + 1);
        }
    }

    /// <summary>The context closed: detach (the context lock is held).</summary>
    public override void Destroyed() => DetachLocked();

    private void DetachLocked()
    {
        if (Ioas is IoasObject ioas)
        {
            if (_pins.Count > 0)
            {
                Unmapped?.Invoke(0, ulong.MaxValue);
                foreach ((Pages Pages, ulong Offset, ulong Length)[] pieces in _held)
                {
                    Release(pieces);
                }

                _pins.Clear();
                _held.Clear();
            }

            ioas.Iopt.RemoveAccess(this);
            ioas.Users--;
            ioas.Iopt.RecomputeAlignment();

            Ioas = null;
        }
    }
}
