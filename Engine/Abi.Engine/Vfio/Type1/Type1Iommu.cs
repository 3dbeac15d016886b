using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio.Type1;

/// <summary>
/// vfio_iommu_type1 as a container backend (drivers/vfio/vfio_iommu_type1.c): one "vfio_dma" per MAP_DMA, never
/// merged or split; v1 and v2 unmap rules; the entry limit; VADDR invalidation; dirty tracking
/// that reports every mapped page (type1 cannot see a physical device's writes). The mappings live
/// in an <see cref="IoPagetable"/> of its own, which gives devices the same translation path (and
/// IOTLB) as iommufd; type1 keeps its own accounting and unmap rules over it. The valid IOVA list is the engine IOMMU's aperture minus the MSI window.
/// </summary>
internal sealed unsafe partial class Type1Iommu
{
    private const ulong PageSizes = EngineIommu.PageSizes;
    private const ulong MinPage = LinuxConstants.PageSize;
    private readonly HashSet<ulong> _invalidVaddr = [];
    private readonly Lock _lock = new();

    public Type1Iommu(EmulatedKernel kernel, bool v2)
    {
        Kernel = kernel;
        V2 = v2;
        Table = new IoPagetable { Memory = kernel.Memory, Alignment = MinPage };
        DmaEntryLimit = kernel.Type1DmaEntryLimit;
    }

    public EmulatedKernel Kernel { get; }

    /// <summary>TYPE1v2 unmap semantics (else v1).</summary>
    public bool V2 { get; }

    /// <summary>The IOVA → memory table every device of the container translates through.</summary>
    public IoPagetable Table { get; }

    public bool DirtyTracking { get; private set; }

    /// <summary>The module's dma_entry_limit when the backend was set (vfio_iommu_type1_open copies it into dma_avail): later changes reach only new containers.</summary>
    public int DmaEntryLimit { get; }

    /// <summary>The valid IOVA ranges (inclusive), ascending.</summary>
    private static readonly (ulong Start, ulong Last)[] s_valid = [(0, EngineIommu.MsiStart - 1), (EngineIommu.MsiLast + 1, EngineIommu.ApertureLast)];

    public int CheckExtension(ulong extension) => extension switch
    {
        (ulong)Constants.VFIO_TYPE1_IOMMU or (ulong)Constants.VFIO_TYPE1v2_IOMMU or (ulong)Constants.VFIO_UNMAP_ALL => 1,
        (ulong)Constants.VFIO_UPDATE_VADDR => 1,                           // no emulated (mdev) groups in the engine

        // vfio_domains_have_enforce_cache_coherency: every domain; the container's groups all sit
        // behind the machine's VT-d unit (IOMMU_CAP_ENFORCE_CACHE_COHERENCY: its snoop control).
        (ulong)Constants.VFIO_DMA_CC_IOMMU => Kernel.VtdUnit.EnforcesCacheCoherency ? 1 : 0,
        _ => 0,
    };

    public int Ioctl(uint request, nint argument)
    {
        // vfio_iommu_type1_ioctl: no check of its own; each handler's first copy meets a NULL argument,
        // except DIRTY_PAGES's, which a v1 container answers EACCES first (seed 3914 of a 500-call --vfio run).
        lock (_lock)
        {
            return request switch
            {
                Constants.VFIO_IOMMU_GET_INFO => GetInfo((ulong)argument),
                Constants.VFIO_IOMMU_MAP_DMA => UserAccess.TryRead((ulong)argument, out vfio_iommu_type1_dma_map map) ? MapDma(ref map) : Fail(Errno.EFAULT, "the vfio_iommu_type1_dma_map cannot be read"),
                Constants.VFIO_IOMMU_UNMAP_DMA => UnmapDma((ulong)argument),
                Constants.VFIO_IOMMU_DIRTY_PAGES => DirtyPages((ulong)argument),
                _ => Fail(Errno.ENOTTY, $"0x{request:X} is not a type1 ioctl"),
            };
        }
    }

    /// <summary>The last group left: every mapping is dropped.</summary>
    public void Release()
    {
        lock (_lock)
        {
            while (Table.TryGetFirst(0, ulong.MaxValue, out Area area))
            {
                RemoveDma(area);
            }
        }
    }

    /// <summary>
    /// vfio_remove_dma: the mapping leaves the table, gives back what it charged, and takes its
    /// invalidated vaddr and its dirty bitmap with it.
    /// </summary>
    private void RemoveDma(Area area)
    {
        _invalidVaddr.Remove(area.Iova);
        _dirtyBitmaps.Remove(area.Iova);
        area.Pages.UnchargeAsType1(Kernel.Accounting);
        Table.Remove(area);
    }

    /// <summary>
    /// vfio_iommu_type1_attach_group's refusals, in its order: EBUSY while a mapping's vaddr is
    /// invalidated (attaching may need to pin), then EINVAL when a mapping sits in the group's reserved
    /// MSI window; null when the group may join.
    /// </summary>
    public int? AttachGroupError(string group)
    {
        lock (_lock)
        {
            if (_invalidVaddr.Count != 0)
            {
                return Fail(Errno.EBUSY, $"{group}: a mapping's vaddr is invalidated (VFIO_DMA_UNMAP_FLAG_VADDR) until MAP_DMA gives it back");
            }

            return Table.IntersectsArea(EngineIommu.MsiStart, EngineIommu.MsiLast) ? Fail(Errno.EINVAL, $"{group}: its reserved MSI window is already mapped in the container") : null;
        }
    }

    /// <summary>vfio_iommu_type1.c: vfio_iommu_type1_get_info; the chain goes out in one copy when it fits, then the header.</summary>
    private int GetInfo(ulong arg)
    {
        var info = default(vfio_iommu_type1_info);
        if (!UserAccess.TryRead(arg, new Span<byte>(&info, (int)IoctlMinSizes.VFIO_IOMMU_GET_INFO)))
        {
            return Fail(Errno.EFAULT, "the vfio_iommu_type1_info cannot be read");
        }

        uint argsz = info.argsz;
        if (argsz < IoctlMinSizes.VFIO_IOMMU_GET_INFO)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} is below {IoctlMinSizes.VFIO_IOMMU_GET_INFO}");
        }

        // Capabilities in the kernel's order: MIGRATION, DMA_AVAIL, IOVA_RANGE; each 8-byte aligned.
        int infoSize = sizeof(vfio_iommu_type1_info);
        int migrationSize = sizeof(vfio_iommu_type1_info_cap_migration);
        int availSize = IommuInfoCapabilities.DmaAvailSize;
        int rangeSize = IommuInfoCapabilities.IovaRangeSize(s_valid.Length);
        int total = infoSize + migrationSize + availSize + rangeSize;
        Span<byte> chain = stackalloc byte[total - infoSize];
        chain.Clear();
        fixed (byte* c = chain)
        {
            var migration = (vfio_iommu_type1_info_cap_migration*)c;
            migration->header = new vfio_info_cap_header { id = (ushort)Constants.VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, version = 1, next = (uint)(infoSize + migrationSize) };
            migration->pgsize_bitmap = MinPage;
            migration->max_dirty_bitmap_size = MaxBitmapBytes;
            uint avail = (uint)Math.Max(0, DmaEntryLimit - Table.AreaCount);
            IommuInfoCapabilities.WriteDmaAvail(c + migrationSize, avail, next: (uint)(infoSize + migrationSize + availSize));
            IommuInfoCapabilities.WriteIovaRange(c + migrationSize + availSize, s_valid, next: 0);
        }

        var result = new vfio_iommu_type1_info
        {
            argsz = argsz,
            flags = (uint)(Constants.VFIO_IOMMU_INFO_PGSIZES | Constants.VFIO_IOMMU_INFO_CAPS),
            iova_pgsizes = PageSizes,
        };
        if (argsz < total)
        {
            result.argsz = (uint)total;         // too small for the chain: say how much, copy none
        }
        else
        {
            if (!UserAccess.TryWrite(arg + (ulong)infoSize, chain))
            {
                return Fail(Errno.EFAULT, "the capability chain cannot be written");
            }

            result.cap_offset = (uint)infoSize;
        }

        int back = (int)Math.Min(argsz, (uint)infoSize);
        return UserAccess.TryWrite(arg, new ReadOnlySpan<byte>(&result, back)) ? 0 : Fail(Errno.EFAULT, "the vfio_iommu_type1_info cannot be written back");
    }

    private int MapDma(ref vfio_iommu_type1_dma_map map)
    {
        const uint Read = (uint)Constants.VFIO_DMA_MAP_FLAG_READ, Write = (uint)Constants.VFIO_DMA_MAP_FLAG_WRITE, Vaddr = (uint)Constants.VFIO_DMA_MAP_FLAG_VADDR;
        if (map.argsz < IoctlMinSizes.VFIO_IOMMU_MAP_DMA || (map.flags & ~(Read | Write | Vaddr)) != 0)
        {
            return Fail(Errno.EINVAL, map.argsz < IoctlMinSizes.VFIO_IOMMU_MAP_DMA ? $"argsz {map.argsz} is below {IoctlMinSizes.VFIO_IOMMU_MAP_DMA}" : $"unknown flags 0x{map.flags:X}");
        }

        ulong iova = map.iova, size = map.size, vaddr = map.vaddr;
        if (size == 0)
        {
            return Fail(Errno.EINVAL, "size is 0");
        }

        if (iova + (size - 1) < iova || vaddr + (size - 1) < vaddr)
        {
            return Fail(Errno.EOVERFLOW, "iova or vaddr + size wraps");
        }

        bool updateVaddr = (map.flags & Vaddr) != 0;
        if (updateVaddr ? (map.flags & (Read | Write)) != 0 : (map.flags & (Read | Write)) == 0)
        {
            return Fail(Errno.EINVAL, updateVaddr ? "VADDR cannot be combined with READ or WRITE" : "neither READ nor WRITE is set");
        }

        if ((size | iova | vaddr) % MinPage != 0)
        {
            return Fail(Errno.EINVAL, "iova, vaddr and size must be multiples of 4096");
        }

        ulong last = iova + (size - 1);
        if (updateVaddr)
        {
            if (!Table.TryGetFirst(iova, last, out Area old))
            {
                return Fail(Errno.ENOENT, $"no mapping at 0x{iova:X}");
            }

            if (old.Iova != iova || old.Length != size || !_invalidVaddr.Contains(iova))
            {
                return Fail(Errno.EINVAL, "VADDR must name exactly one mapping whose vaddr was invalidated");
            }

            Pages swapped = new Pages().Reset(vaddr, size, null, 0, old.Writable, old.Pages.Mode);
            swapped.Type1Charge = old.Pages.Type1Charge;        // the pages stay pinned: the charge moves with them
            Table.Replace(old, old with { Pages = swapped, PagesOffset = 0 });

            _invalidVaddr.Remove(iova);
            return 0;
        }

        if (Table.IntersectsArea(iova, last))
        {
            return Fail(Errno.EEXIST, $"[0x{iova:X}, 0x{last:X}] overlaps a mapping");
        }

        if (Table.AreaCount >= DmaEntryLimit)
        {
            return Fail(Errno.ENOSPC, $"the container holds {Table.AreaCount} mappings, the dma_entry_limit");
        }

        bool valid = false;
        foreach ((ulong start, ulong end) in s_valid)
        {
            valid |= iova >= start && last <= end;
        }

        if (!valid)
        {
            return Fail(Errno.EINVAL, $"[0x{iova:X}, 0x{last:X}] is not inside one valid IOVA range");
        }

        // vfio_pin_pages_remote: pin_user_pages_remote asks for FOLL_WRITE only for a writable mapping,
        // so a read-only mapping of read-only memory is pinned.
        bool write = (map.flags & Write) != 0;
        if (!Kernel.Memory.Contains(vaddr, size, write))
        {
            return Fail(Errno.EFAULT, $"vaddr 0x{vaddr:X} cannot be pinned (not memory the engine knows)");
        }

        // vaddr_get_pfns → follow_fault_pfn: another device's BAR is faulted in only while that device
        // decodes memory and is not in low power (vfio_pci_vmf_insert_pfn answers SIGBUS otherwise).
        if (!Kernel.BarMappingsDecoded(vaddr, size))
        {
            return Fail(Errno.EFAULT, $"vaddr 0x{vaddr:X} reaches a BAR mapping whose device does not decode memory now (memory decoding off, or low power)");
        }

        if (Kernel.Faults.ShouldFail("type1.map"))
        {
            return Fail(Errno.ENOMEM, "injected failure: type1.map");
        }

        // type1 charges every mapping to VmLck on its own, duplicates included (vfio_iommu_type1.c: vfio_pin_pages_remote, vfio_lock_acct); another
        // device's BAR (peer-to-peer) is mapped without pinning, so without a charge: a mapping that spans
        // memory and a BAR is pinned chunk by chunk (a reserved pfn ends a chunk) and charges its memory.
        AccountingMode mode = Kernel.Accounting.ModeFor(contextMm: true);
        long pinned = (long)((size - Kernel.Memory.PeerBytes(vaddr, size)) / MinPage);
        if (!Kernel.Accounting.Fits(0, mode == AccountingMode.None ? 0 : pinned))
        {
            return Fail(Errno.ENOMEM, $"pinning {pinned} more pages would pass RLIMIT_MEMLOCK ({Kernel.Accounting.LimitPages} pages)");
        }

        var pages = new Pages().Reset(vaddr, size, null, 0, (map.flags & Write) != 0, mode);
        pages.Areas = 1;
        pages.ChargeAsType1(pinned, Kernel.Accounting);
        var area = new Area(iova, last, pages, 0, (map.flags & Read) != 0, (map.flags & Write) != 0);
        Table.Insert(area);
        if (TrackNewMapping(iova, size) is int untracked)
        {
            RemoveDma(area);                    // the mapping goes again
            return untracked;
        }

        return 0;
    }

}
