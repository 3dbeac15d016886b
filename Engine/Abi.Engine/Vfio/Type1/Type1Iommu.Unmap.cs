using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio.Type1;

/// <summary>UNMAP_DMA (v1 and v2 rules, ALL, VADDR, GET_DIRTY_BITMAP) and DIRTY_PAGES.</summary>
internal sealed unsafe partial class Type1Iommu
{
    private const uint UnmapDirty = (uint)Constants.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, UnmapAll = (uint)Constants.VFIO_DMA_UNMAP_FLAG_ALL, UnmapVaddr = (uint)Constants.VFIO_DMA_UNMAP_FLAG_VADDR;
    private const ulong MaxBitmapBytes = 0x1000_0000;          // vfio_iommu_type1.c: DIRTY_BITMAP_SIZE_MAX (not UAPI)

    /// <summary>vfio_iommu_type1.c: vfio_iommu_type1_unmap_dma, then vfio_dma_do_unmap; the struct goes back only on success.</summary>
    private int UnmapDma(ulong arg)
    {
        if (!UserAccess.TryRead(arg, out vfio_iommu_type1_dma_unmap unmap))
        {
            return Fail(Errno.EFAULT, "the vfio_iommu_type1_dma_unmap cannot be read");
        }

        int rc = UnmapDma(arg, ref unmap);
        return rc != 0 || UserAccess.TryWrite(arg, unmap) ? rc : Fail(Errno.EFAULT, "the unmapped size cannot be written back");
    }

    private int UnmapDma(ulong arg, ref vfio_iommu_type1_dma_unmap unmap)
    {
        uint flags = unmap.flags;
        if (unmap.argsz < IoctlMinSizes.VFIO_IOMMU_UNMAP_DMA || (flags & ~(UnmapDirty | UnmapAll | UnmapVaddr)) != 0)
        {
            return Fail(Errno.EINVAL, unmap.argsz < IoctlMinSizes.VFIO_IOMMU_UNMAP_DMA ? $"argsz {unmap.argsz} is below {IoctlMinSizes.VFIO_IOMMU_UNMAP_DMA}" : $"unknown flags 0x{flags:X}");
        }

        if ((flags & UnmapDirty) != 0 && (flags & (UnmapAll | UnmapVaddr)) != 0)
        {
            return Fail(Errno.EINVAL, "GET_DIRTY_BITMAP cannot be combined with ALL or VADDR");
        }

        vfio_bitmap bitmap = default;
        if ((flags & UnmapDirty) != 0)
        {
            if (unmap.argsz < 24 + (uint)sizeof(vfio_bitmap))
            {
                return Fail(Errno.EINVAL, "argsz leaves no room for the vfio_bitmap");
            }

            if (!UserAccess.TryRead(arg + 24, out bitmap))
            {
                return Fail(Errno.EFAULT, "the vfio_bitmap cannot be read");
            }

            if (BitmapSizeError(unmap.size, bitmap) is int failed)
            {
                return failed;
            }
        }

        ulong iova = unmap.iova, size = unmap.size;
        if (iova % MinPage != 0)
        {
            return Fail(Errno.EINVAL, $"iova 0x{iova:X} is not page aligned");
        }

        if ((flags & UnmapAll) != 0)
        {
            if (iova != 0 || size != 0)
            {
                return Fail(Errno.EINVAL, "ALL needs iova and size 0");
            }

            size = ulong.MaxValue - iova + 1;      // everything; 2^64 does not fit, so last is computed directly
        }
        else if (size == 0 || size % MinPage != 0)
        {
            return Fail(Errno.EINVAL, $"size 0x{size:X} is zero or not page aligned");
        }

        ulong last = (flags & UnmapAll) != 0 ? ulong.MaxValue : iova + (size - 1);
        if (last < iova)
        {
            return Fail(Errno.EOVERFLOW, "iova + size wraps");
        }

        // vfio_dma_do_unmap: only after the range's checks, the bitmap's page size and tracking.
        if ((flags & UnmapDirty) != 0 && (!DirtyTracking || bitmap.pgsize != MinPage))
        {
            return Fail(Errno.EINVAL, DirtyTracking ? $"pgsize 0x{bitmap.pgsize:X} is not the smallest IOMMU page (4096)" : "dirty tracking is not started (VFIO_IOMMU_DIRTY_PAGES START)");
        }

        if (V2)
        {
            if (Table.TryGetArea(iova, out Area straddling) && straddling.Iova < iova)
            {
                return Fail(Errno.EINVAL, $"the mapping at 0x{straddling.Iova:X} starts before iova; TYPE1v2 never splits");
            }

            if (Table.TryGetArea(last, out Area pastEnd) && pastEnd.Last > last)
            {
                return Fail(Errno.EINVAL, $"the mapping at 0x{pastEnd.Iova:X} runs past the end of the range; TYPE1v2 never splits");
            }
        }
        else if (Table.TryGetArea(iova, out Area straddling) && straddling.Iova < iova)
        {
            unmap.size = 0;                        // v1: a mapping straddling iova ends the walk, nothing removed
            return 0;
        }

        // Only now VADDR: vfio_dma_do_unmap makes the v2 checks and the v1 walk's first step before it
        // looks at the flag, so a range that bisects a mapping is EINVAL (v2) or changes nothing (v1) here too.
        if ((flags & UnmapVaddr) != 0)
        {
            return InvalidateVaddr(ref unmap, iova, last);
        }

        // vfio_dma_do_unmap: each mapping is reported, then removed; a report that faults ends the
        // walk with the mappings before it gone (the struct does not go back: the call failed).
        ulong unmapped = 0;
        while (Table.TryGetFirst(iova, last, out Area area))
        {
            if ((flags & UnmapDirty) != 0 && ReportDirty((ulong)bitmap.data, area, iova) is int faulted)
            {
                return faulted;
            }

            // v1 removes a mapping that starts inside the range whole, even if it runs past its end.
            unmapped += area.Length;
            RemoveDma(area);
        }

        unmap.size = unmapped;
        return 0;
    }

    private int InvalidateVaddr(ref vfio_iommu_type1_dma_unmap unmap, ulong iova, ulong last)
    {
        ulong total = 0;
        foreach (Area area in Table.AreasIn(iova, last))
        {
            if (_invalidVaddr.Contains(area.Iova))
            {
                return Fail(Errno.EINVAL, $"the vaddr of the mapping at 0x{area.Iova:X} is invalid already");
            }
        }

        foreach (Area area in Table.AreasIn(iova, last))
        {
            _invalidVaddr.Add(area.Iova);
            total += area.Length;
        }

        unmap.size = total;
        return 0;
    }

    /// <summary>vfio_iommu_type1.c: vfio_iommu_type1_dirty_pages (the v2 check comes before the copy).</summary>
    private int DirtyPages(ulong arg)
    {
        const uint Start = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START, Stop = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP, Get = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP;
        if (!V2)
        {
            return Fail(Errno.EACCES, "dirty tracking needs a TYPE1v2 container");
        }

        if (!UserAccess.TryRead(arg, out vfio_iommu_type1_dirty_bitmap dirty))
        {
            return Fail(Errno.EFAULT, "the vfio_iommu_type1_dirty_bitmap cannot be read");
        }

        if (dirty.argsz < IoctlMinSizes.VFIO_IOMMU_DIRTY_PAGES || (dirty.flags & ~(Start | Stop | Get)) != 0 || !uint.IsPow2(dirty.flags))
        {
            return Fail(Errno.EINVAL, "argsz below 8, unknown flags, or not exactly one of START/STOP/GET_BITMAP");
        }

        switch (dirty.flags)
        {
            case Start:
                return StartDirtyTracking();
            case Stop:
                StopDirtyTracking();
                return 0;
        }

        if (dirty.argsz - 8 < (uint)sizeof(vfio_iommu_type1_dirty_bitmap_get))
        {
            return Fail(Errno.EINVAL, "argsz leaves no room for vfio_iommu_type1_dirty_bitmap_get");
        }

        if (!UserAccess.TryRead(arg + 8, out vfio_iommu_type1_dirty_bitmap_get get))
        {
            return Fail(Errno.EFAULT, "the vfio_iommu_type1_dirty_bitmap_get cannot be read");
        }

        if (get.size == 0)
        {
            return Fail(Errno.EINVAL, "size is 0");
        }

        if (get.iova + (get.size - 1) < get.iova)
        {
            return Fail(Errno.EOVERFLOW, "iova + size wraps");
        }

        if (BitmapSizeError(get.size, get.bitmap) is int failed)
        {
            return failed;
        }

        if (get.bitmap.pgsize != MinPage)
        {
            return Fail(Errno.EINVAL, $"pgsize 0x{get.bitmap.pgsize:X} is not the smallest IOMMU page (4096)");
        }

        if (get.iova % MinPage != 0 || get.size % MinPage != 0)
        {
            return Fail(Errno.EINVAL, "iova and size must be page aligned");
        }

        if (!DirtyTracking)
        {
            return Fail(Errno.EINVAL, "dirty tracking is not started (VFIO_IOMMU_DIRTY_PAGES START)");
        }

        ulong last = get.iova + (get.size - 1);
        if ((Table.TryGetArea(get.iova, out Area first) && first.Iova < get.iova) || (Table.TryGetArea(last, out Area end) && end.Last > last))
        {
            return Fail(Errno.EINVAL, "a mapping is bisected by an end of the range");
        }

        // vfio_iova_dirty_bitmap: the mappings that start in the range, in order; each one's bits are
        // cleared once reported (a fault ends the walk, the ones before it cleared).
        foreach (Area area in Table.AreasIn(get.iova, last))
        {
            if (area.Iova < get.iova)
            {
                continue;
            }

            if (ReportDirty((ulong)get.bitmap.data, area, get.iova) is int faulted)
            {
                return faulted;
            }

            ClearReported(area);
        }

        return 0;
    }

    /// <summary>
    /// The vfio_bitmap checks made before the container's lock (vfio_iommu_type1_unmap_dma and
    /// DIRTY_PAGES GET_BITMAP): the bitmap in user memory (access_ok), then verify_bitmap_size over the
    /// range counted in the bitmap's own page size (<c>size &gt;&gt; __ffs(pgsize)</c>). Whether that page
    /// size is the IOMMU's and whether tracking runs are asked later, after the range's own checks.
    /// </summary>
    private static int? BitmapSizeError(ulong rangeSize, in vfio_bitmap bitmap)
    {
        if (!UserAccess.AccessOk((ulong)bitmap.data, bitmap.size))
        {
            return Fail(Errno.EINVAL, "the bitmap lies outside user memory (access_ok)");
        }

        // A shift of 64 (pgsize 0) is a shift of 0 in C# as on x86's shr, which the kernel's compiles to.
        ulong pages = rangeSize >> System.Numerics.BitOperations.TrailingZeroCount(bitmap.pgsize);
        ulong needed = (pages + 63) / 64 * 8;                     // DIRTY_BITMAP_BYTES
        if (pages == 0 || bitmap.size == 0 || bitmap.size > MaxBitmapBytes || bitmap.size < needed)
        {
            return Fail(Errno.EINVAL, $"bitmap size {bitmap.size} is not in [{needed}, 0x{MaxBitmapBytes:X}] for {pages} pages of 0x{bitmap.pgsize:X}");
        }

        return null;
    }
}
