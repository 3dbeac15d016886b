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

    // What each pin charged: pages already pinned for a domain are not charged again.
    private readonly List<(AccountingMode Mode, long Pages)> _charges = [];

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
        lock (owner.Sync)
        {
            if (owner.Objects.Get<IoasObject>(ioasId, ObjectKind.Ioas) is not IoasObject ioas)
            {
                return Fail(Errno.ENOENT, $"{ioasId} is not an IOAS");
            }

            foreach (Area area in ioas.Areas)
            {
                if (area.Iova % Alignment != 0 || area.Length % Alignment != 0)
                {
                    return Fail(Errno.EADDRINUSE, $"the mapping at 0x{area.Iova:X} is not page aligned, which an access needs");
                }
            }

            DetachLocked();
            Ioas = ioas;
            ioas.Users++;
            ioas.Accesses.Add(this);
            ioas.RecomputeAlignment();
            return 0;
        }
    }

    /// <summary>Detaches; silent when not attached. Every pin is dropped first.</summary>
    public void Detach()
    {
        lock (owner.Sync)
        {
            DetachLocked();
        }
    }

    /// <summary>Copies between the IOVA range and <paramref name="buffer"/>: any alignment; ENOENT for a hole, EPERM for a write to a read-only mapping.</summary>
    public int Rw(ulong iova, Span<byte> buffer, bool write)
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

        long faults = ioas.Faults.Count;
        bool ok = write ? ioas.DmaWrite(iova, buffer) : ioas.DmaRead(iova, buffer);
        if (ok)
        {
            return 0;
        }

        IommuFault fault = ioas.Faults.Last!.Value;
        return fault.Reason == IommuFaultReason.Permission
            ? Fail(Errno.EPERM, $"0x{fault.Iova:X} is mapped without {(write ? "write" : "read")} permission")
            : Fail(Errno.ENOENT, $"0x{fault.Iova:X} is not mapped ({faults} earlier faults)");
    }

    /// <summary>Pins the pages under [iova, iova + length): fully mapped, writable when <paramref name="write"/>; any alignment, as iommufd_access_pin_pages (VFIO aligns down itself).</summary>
    public int Pin(ulong iova, ulong length, bool write)
    {
        lock (owner.Sync)
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
            bool domainPinned = false;
            AccountingMode mode = AccountingMode.None;
            for (int i = ioas.LowerBound(iova); cursor <= last; i++)
            {
                if (i >= ioas.Areas.Count || ioas.Areas[i].Iova > cursor)
                {
                    return Fail(Errno.ENOENT, $"0x{cursor:X} is not mapped");
                }

                if (write ? !ioas.Areas[i].Writable : !ioas.Areas[i].Readable)
                {
                    return Fail(Errno.EPERM, $"the mapping at 0x{ioas.Areas[i].Iova:X} is not {(write ? "writable" : "readable")}");
                }

                domainPinned |= ioas.Areas[i].Pages.DomainAreas > 0;
                mode = ioas.Areas[i].Pages.Mode;
                if (ioas.Areas[i].Last >= last)
                {
                    break;
                }

                cursor = ioas.Areas[i].Last + 1;
            }

            if (owner.Kernel.Faults.ShouldFail("access.pin"))
            {
                return Fail(Errno.ENOMEM, "injected failure: access.pin");
            }

            long pages = domainPinned ? 0 : PinAccounting.PagesSpanned(iova, length);
            long user = 0, mm = 0;
            IoasObject.AddCharge(mode, pages, ref user, ref mm);
            PinAccounting accounting = owner.Kernel.Accounting;
            if (pages > 0 && (owner.Kernel.Faults.ShouldFail("pages.account") || !accounting.Fits(user, mm)))
            {
                return Fail(Errno.ENOMEM, $"pinning {pages} pages would pass RLIMIT_MEMLOCK ({accounting.LimitPages} pages)");
            }

            accounting.Charge(mode, pages);
            _pins.Add((iova, last));
            _charges.Add((mode, pages));
            return 0;
        }
    }

    /// <summary>Unpins a range pinned before.</summary>
    public void Unpin(ulong iova, ulong length)
    {
        lock (owner.Sync)
        {
            int index = _pins.IndexOf((iova, iova + (length - 1)));
            if (index >= 0)
            {
                owner.Kernel.Accounting.Uncharge(_charges[index].Mode, _charges[index].Pages);
                _pins.RemoveAt(index);
                _charges.RemoveAt(index);
            }
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
                foreach ((AccountingMode mode, long pages) in _charges)
                {
                    owner.Kernel.Accounting.Uncharge(mode, pages);
                }

                _pins.Clear();
                _charges.Clear();
            }

            ioas.Accesses.Remove(this);
            ioas.Users--;
            ioas.RecomputeAlignment();

            Ioas = null;
        }
    }
}
