using System.Runtime.CompilerServices;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

internal sealed unsafe partial class IommufdFile
{
    private const uint MapFlagsKnown = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
    private const uint Fixed = (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA;
    private const uint Writeable = (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE;
    private const uint Readable = (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE;

    internal static int IoasAlloc(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_alloc cmd = ref *(iommu_ioas_alloc*)arg;
        if (cmd.flags != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"IOMMU_IOAS_ALLOC flags 0x{cmd.flags:X} are not supported (must be 0)");
        }

        if (f.Kernel.Faults.ShouldFail("ioas.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: ioas.alloc");
        }

        cmd.out_ioas_id = f.Objects.Add(f.NewIoas());
        return 0;
    }

    [SkipLocalsInit]
    internal static int IoasMap(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_map cmd = ref *(iommu_ioas_map*)arg;
        if ((cmd.flags & ~MapFlagsKnown) != 0 || cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown IOMMU_IOAS_MAP flags 0x{cmd.flags & ~MapFlagsKnown:X} or non-zero __reserved");
        }

        if (f.CheckMapArguments(cmd.flags, cmd.iova, cmd.length, cmd.ioas_id, call.Exclusive, out IoasObject? ioas) is int failed)
        {
            return failed;
        }

        if (cmd.user_va + cmd.length < cmd.user_va)
        {
            return Fail(Errno.EOVERFLOW, $"user_va 0x{cmd.user_va:X} + length 0x{cmd.length:X} wraps");
        }

        if (cmd.length == 0 || cmd.length > ulong.MaxValue - LinuxConstants.PageSize)
        {
            return Fail(Errno.EINVAL, $"length 0x{cmd.length:X} is zero or too large");
        }

        if (f.Kernel.Faults.ShouldFail("pages.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: pages.alloc");
        }

        using (ioas!.Iopt.IovaLock.EnterScope(call.Thread))
        {
            if (!call.Exclusive && f.Objects.GetPublishedIoas(cmd.ioas_id) != ioas)
            {
                return Fail(Errno.ENOENT, $"{cmd.ioas_id} was destroyed while the map waited for it");
            }

            Pages pages = ioas.Iopt.RentPages().Reset(cmd.user_va, cmd.length, null, 0, (cmd.flags & Writeable) != 0, f.Kernel.Accounting.ModeFor(f.AccountMm));
            int rc = MapPages(ioas, pages, 0, cmd.length, cmd.flags, ref cmd.iova);
            ioas.Iopt.ReleaseIfUnused(pages);
            return rc;
        }
    }

    internal static int IoasMapFile(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_map_file cmd = ref *(iommu_ioas_map_file*)arg;
        if ((cmd.flags & ~MapFlagsKnown) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown IOMMU_IOAS_MAP_FILE flags 0x{cmd.flags & ~MapFlagsKnown:X}");
        }

        if (f.CheckMapArguments(cmd.flags, cmd.iova, cmd.length, cmd.ioas_id, exclusive: true, out IoasObject? ioas) is int failed)
        {
            return failed;
        }

        if (cmd.length == 0)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        if (cmd.start + (cmd.length - 1) < cmd.start)
        {
            return Fail(Errno.EOVERFLOW, $"start 0x{cmd.start:X} + length 0x{cmd.length:X} wraps");
        }

        if (f.Kernel.FileOf(cmd.fd) is DmaBufFile dmabuf)
        {
            return MapDmaBuf(ioas!, dmabuf, ref cmd);
        }

        if (!f.Kernel.IsOpenFile(cmd.fd))
        {
            return Fail(Errno.EBADF, $"fd {cmd.fd} is not open");
        }

        // pages.c: iopt_alloc_pages refuses a length the page count cannot hold.
        if (cmd.length > ulong.MaxValue - LinuxConstants.PageSize)
        {
            return Fail(Errno.EINVAL, $"length 0x{cmd.length:X} is too large");
        }

        (ulong Device, ulong Inode, long Size)? stat = FileStat.Of(cmd.fd);
        if (f.Kernel.Faults.ShouldFail("pages.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: pages.alloc");
        }

        Pages pages = ioas!.Iopt.RentPages().Reset(0, cmd.length, cmd.fd, cmd.start, (cmd.flags & Writeable) != 0, f.Kernel.Accounting.ModeFor(f.AccountMm));
        pages.FileIdentity = stat is (ulong device, ulong inode, _) ? (device, inode) : null;
        pages.FileSize = stat is (_, _, long size) ? size : null;
        pages.Pinnable = f.Kernel.FileOf(cmd.fd) is null && FileStat.IsShmem(cmd.fd);
        if (pages.Pinnable)
        {
            pages.MapFileView(cmd.fd);              // where the device and accesses reach the file's pages
        }
        if (f.Kernel.FileOf(cmd.fd) is EngineFile held)
        {
            if (!held.TryGet())
            {
                ioas.Iopt.ReleaseIfUnused(pages);
                return Fail(Errno.EBADF, $"fd {cmd.fd} is being closed");
            }

            pages.File = held;
        }

        int rc = MapPages(ioas, pages, 0, cmd.length, cmd.flags, ref cmd.iova);
        ioas.Iopt.ReleaseIfUnused(pages);
        return rc;
    }

    /// <summary>
    /// MAP_FILE of a dma-buf (iopt_alloc_dmabuf_pages): the range must lie inside the buffer, then the
    /// exporter must let iommufd attach and take its one physical range (not revoked, one range);
    /// nothing is pinned or charged.
    /// </summary>
    private static int MapDmaBuf(IoasObject ioas, DmaBufFile dmabuf, ref iommu_ioas_map_file cmd)
    {
        if (dmabuf.Length <= cmd.start + (cmd.length - 1))
        {
            return Fail(Errno.EINVAL, $"[0x{cmd.start:X}, +0x{cmd.length:X}) runs past the end of the 0x{dmabuf.Length:X}-byte dma-buf");
        }

        Pages pages = ioas.Iopt.RentPages().Reset(0, cmd.length, cmd.fd, cmd.start, (cmd.flags & Writeable) != 0, AccountingMode.None);
        if (pages.ImportDmaBuf(dmabuf) is int refused)
        {
            ioas.Iopt.ReleaseIfUnused(pages);
            return refused;
        }

        int rc = MapPages(ioas, pages, 0, cmd.length, cmd.flags, ref cmd.iova);
        ioas.Iopt.ReleaseIfUnused(pages);
        return rc;
    }

    /// <summary>Steps 2-4 shared by MAP and MAP_FILE: U64_MAX values (EOVERFLOW), no access bit (EINVAL), the IOAS lookup (ENOENT).</summary>
    private int? CheckMapArguments(uint flags, ulong iova, ulong length, uint ioasId, bool exclusive, out IoasObject? ioas)
    {
        ioas = null;
        if (iova == ulong.MaxValue || length == ulong.MaxValue)
        {
            return Fail(Errno.EOVERFLOW, "iova or length is 2^64-1");
        }

        if ((flags & (Readable | Writeable)) == 0)
        {
            return Fail(Errno.EINVAL, "neither IOMMU_IOAS_MAP_READABLE nor IOMMU_IOAS_MAP_WRITEABLE is set");
        }

        ioas = exclusive ? Objects.GetIoas(ioasId) : Objects.GetPublishedIoas(ioasId);
        return ioas is null ? Fail(Errno.ENOENT, $"{ioasId} is not an IOAS") : null;
    }

    /// <summary>Places and inserts one area over <paramref name="pages"/>. Nothing changes on failure.</summary>
    private static int MapPages(IoasObject ioas, Pages pages, ulong pagesOffset, ulong length, uint flags, ref ulong iova)
    {
        Span<(Pages Pages, ulong Offset, ulong Length)> one = [(pages, pagesOffset, length)];
        return MapPieces(ioas, one, length, flags, ref iova);
    }

    /// <summary>iommufd's map flags onto the table's placement and protection (iopt_map_pages).</summary>
    private static int MapPieces(IoasObject ioas, ReadOnlySpan<(Pages Pages, ulong Offset, ulong Length)> pieces, ulong length, uint flags, ref ulong iova) =>
        ioas.Iopt.Map(pieces, length, fixedIova: (flags & Fixed) != 0, readable: (flags & Readable) != 0, writable: (flags & Writeable) != 0, ref iova);

    /// <summary>A new IOAS of this file: its table pins into the kernel's accounting and keeps a pool of the pages objects its maps use.</summary>
    internal IoasObject NewIoas() => new(new IoPagetable
    {
        Memory = Kernel.Memory,
        Accounting = Kernel.Accounting,
        Injection = Kernel.Faults,
        PutFile = Kernel.DeferPut,
        PoolsPages = true,
    });

    internal static int IoasCopy(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_copy cmd = ref *(iommu_ioas_copy*)arg;
        if ((cmd.flags & ~MapFlagsKnown) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown IOMMU_IOAS_COPY flags 0x{cmd.flags & ~MapFlagsKnown:X}");
        }

        if (cmd.length == ulong.MaxValue || cmd.src_iova == ulong.MaxValue || cmd.dst_iova == ulong.MaxValue)
        {
            return Fail(Errno.EOVERFLOW, "length, src_iova or dst_iova is 2^64-1");
        }

        if ((cmd.flags & (Readable | Writeable)) == 0)
        {
            return Fail(Errno.EINVAL, "neither IOMMU_IOAS_MAP_READABLE nor IOMMU_IOAS_MAP_WRITEABLE is set");
        }

        if (f.Objects.Get<IoasObject>(cmd.src_ioas_id, ObjectKind.Ioas) is not IoasObject src)
        {
            return Fail(Errno.ENOENT, $"{cmd.src_ioas_id} is not an IOAS");
        }

        if (cmd.length == 0)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        if (cmd.src_iova + (cmd.length - 1) < cmd.src_iova)
        {
            return Fail(Errno.EOVERFLOW, $"src_iova 0x{cmd.src_iova:X} + length wraps");
        }

        // The source range must be covered by areas with no gap; it may cut areas anywhere.
        ulong srcLast = cmd.src_iova + (cmd.length - 1);
        ulong cursor = cmd.src_iova;
        int count = 0;
        bool covered = false;
        foreach (Area area in src.Iopt.AreasIn(cmd.src_iova, srcLast))
        {
            if (area.Iova > cursor)
            {
                break;
            }

            count++;
            if (area.Last >= srcLast)
            {
                covered = true;
                break;
            }

            cursor = area.Last + 1;
        }

        if (!covered)
        {
            return Fail(Errno.ENOENT, $"[0x{cmd.src_iova:X}, 0x{srcLast:X}] of IOAS {src.Id} is not fully mapped (hole at 0x{cursor:X})");
        }

        if (f.Objects.Get<IoasObject>(cmd.dst_ioas_id, ObjectKind.Ioas) is not IoasObject dst)
        {
            return Fail(Errno.ENOENT, $"{cmd.dst_ioas_id} is not an IOAS");
        }

        // The destination gets one area per source area crossed, at consecutive IOVAs, sharing the source pages.
        var pieces = new (Pages Pages, ulong Offset, ulong Length)[count];
        int k = 0;
        foreach (Area area in src.Iopt.AreasIn(cmd.src_iova, srcLast))
        {
            ulong start = Math.Max(area.Iova, cmd.src_iova);
            ulong end = Math.Min(area.Last, srcLast);
            pieces[k++] = (area.Pages, area.PagesOffset + (start - area.Iova), end - start + 1);
        }

        // From now on both tables may hold pages the other holds too: their unmaps run exclusively.
        src.Iopt.SharesPages = true;
        dst.Iopt.SharesPages = true;

        return MapPieces(dst, pieces, cmd.length, cmd.flags, ref cmd.dst_iova);
    }

    internal static int IoasUnmap(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_unmap cmd = ref *(iommu_ioas_unmap*)arg;
        IoasObject? ioas = call.Exclusive ? f.Objects.GetIoas(cmd.ioas_id) : f.Objects.GetPublishedIoas(cmd.ioas_id);
        if (ioas is null)
        {
            return Fail(Errno.ENOENT, $"{cmd.ioas_id} is not an IOAS");
        }

        using (ioas.Iopt.IovaLock.EnterScope(call.Thread))
        {
            if (!call.Exclusive)
            {
                if (f.Objects.GetPublishedIoas(cmd.ioas_id) != ioas)
                {
                    return Fail(Errno.ENOENT, $"{cmd.ioas_id} was destroyed while the unmap waited for it");
                }

                // An access's notification calls back into the context, and pages another table holds
                // are shared state: both need the context held exclusively (nothing has changed yet).
                if (ioas.Iopt.HasAccesses || ioas.Iopt.SharesPages)
                {
                    return RetryExclusive;
                }
            }

            return Unmap(ioas, ref cmd);
        }
    }

    /// <summary>IOAS_UNMAP's checks and work, under the IOAS's IOVA lock (iommufd_ioas_unmap).</summary>
    private static int Unmap(IoasObject ioas, ref iommu_ioas_unmap cmd)
    {
        if (cmd.iova == 0 && cmd.length == ulong.MaxValue)
        {
            // Everything, or up to a locked area (EBUSY; what went before it stays unmapped).
            ulong all = ioas.Iopt.Unmap(0, ulong.MaxValue, out int busy);
            if (busy != 0)
            {
                return busy;
            }

            cmd.length = all;
            return 0;
        }

        if (cmd.iova == ulong.MaxValue || cmd.length == ulong.MaxValue)
        {
            return Fail(Errno.EOVERFLOW, "iova or length is 2^64-1");
        }

        if (cmd.length == 0)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        if (cmd.iova + (cmd.length - 1) < cmd.iova)
        {
            return Fail(Errno.EOVERFLOW, $"iova 0x{cmd.iova:X} + length wraps");
        }

        ulong last = cmd.iova + (cmd.length - 1);
        ulong unmapped = ioas.Iopt.Unmap(cmd.iova, last, out int rc);
        if (rc != 0)
        {
            return rc;
        }

        if (unmapped == 0)
        {
            return Fail(Errno.ENOENT, $"nothing is mapped in [0x{cmd.iova:X}, 0x{last:X}]");
        }

        cmd.length = unmapped;
        return 0;
    }


    internal static int IoasIovaRanges(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_iova_ranges cmd = ref *(iommu_ioas_iova_ranges*)arg;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        if (f.Objects.Get<IoasObject>(cmd.ioas_id, ObjectKind.Ioas) is not IoasObject ioas)
        {
            return Fail(Errno.ENOENT, $"{cmd.ioas_id} is not an IOAS");
        }

        Span<(ulong Start, ulong Last)> holes = ioas.Iopt.Reserved.Length < 32 ? stackalloc (ulong, ulong)[ioas.Iopt.Reserved.Length + 1] : new (ulong, ulong)[ioas.Iopt.Reserved.Length + 1];
        int total = ioas.Iopt.Holes(holes);
        uint capacity = cmd.num_iovas;
        for (int i = 0; i < Math.Min(total, (long)capacity); i++)
        {
            var range = new iommu_iova_range { start = holes[i].Start, last = holes[i].Last };
            if (!UserAccess.TryWrite(cmd.allowed_iovas + ((ulong)i * (ulong)sizeof(iommu_iova_range)), new ReadOnlySpan<byte>(&range, sizeof(iommu_iova_range))))
            {
                return Fail(Errno.EFAULT, $"allowed_iovas 0x{cmd.allowed_iovas:X} cannot be written");
            }
        }

        cmd.num_iovas = (uint)total;
        cmd.out_iova_alignment = ioas.Iopt.Alignment;
        if (total > capacity)
        {
            call.CopyOutOnError = true;
            return Fail(Errno.EMSGSIZE, $"{total} ranges do not fit in the {capacity} given");
        }

        return 0;
    }

    /// <summary>ioas.c: iommufd_ioas_allow_iovas (iommufd_ioas_load_iovas, then iopt_set_allow_iova).</summary>
    internal static int IoasAllowIovas(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_allow_iovas cmd = ref *(iommu_ioas_allow_iovas*)arg;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        if (f.Objects.Get<IoasObject>(cmd.ioas_id, ObjectKind.Ioas) is not IoasObject ioas)
        {
            return Fail(Errno.ENOENT, $"{cmd.ioas_id} is not an IOAS");
        }

        var ranges = new List<(ulong Start, ulong Last)>((int)Math.Min(cmd.num_iovas, 1024));
        for (uint i = 0; i < cmd.num_iovas; i++)
        {
            iommu_iova_range range;
            if (!UserAccess.TryRead(cmd.allowed_iovas + (i * (ulong)sizeof(iommu_iova_range)), new Span<byte>(&range, sizeof(iommu_iova_range))))
            {
                return Fail(Errno.EFAULT, $"allowed_iovas[{i}] cannot be read");
            }

            if (range.start >= range.last)
            {
                return Fail(Errno.EINVAL, $"range {i} [0x{range.start:X}, 0x{range.last:X}] is empty or one byte");
            }

            foreach ((ulong s, ulong l) in ranges)
            {
                if (s <= range.last && range.start <= l)
                {
                    return Fail(Errno.EINVAL, $"range {i} overlaps an earlier range of the list");
                }
            }

            ranges.Add((range.start, range.last));
        }

        // iopt_set_allow_iova: the reserved ranges are checked only once the whole list has loaded.
        ranges.Sort();
        foreach ((ulong start, ulong last) in ranges)
        {
            if (ioas.Iopt.IntersectsReserved(start, last))
            {
                return Fail(Errno.EADDRINUSE, $"[0x{start:X}, 0x{last:X}] intersects a reserved range");
            }
        }

        ioas.Iopt.SetAllowed(ranges);
        return 0;
    }

    internal static int IoasChangeProcess(IommufdFile f, byte* arg, ref IoctlCall call)
    {
        ref iommu_ioas_change_process cmd = ref *(iommu_ioas_change_process*)arg;
        if (cmd.__reserved != 0)
        {
            return Fail(Errno.EOPNOTSUPP, "__reserved is not zero");
        }

        // ioas.c: every area's pages must be IOPT_ADDRESS_FILE; user memory and dma-bufs are EINVAL.
        foreach (IommufdObject value in f.Objects.All())
        {
            if (value is IoasObject ioas && ioas.Iopt.Areas.Any(a => a.Pages.FileDescriptor is null || a.Pages.DmaBuf is not null))
            {
                return Fail(Errno.EINVAL, $"IOAS {ioas.Id} has a mapping that is not of a memory file (only those can change process)");
            }
        }

        // One process: every mapping already belongs to the caller, so there is no accounting to move.
        return 0;
    }
}
