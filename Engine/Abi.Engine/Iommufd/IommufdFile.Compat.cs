using Abi.Engine.Process;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// iommufd serving the VFIO container ioctls (drivers/iommu/iommufd/vfio_compat.c): every number iommufd does not own is a
/// container ioctl acting on the compat IOAS. The differences from type1 are deliberate (Documentation/userspace-api/iommufd.rst lists them):
/// argsz always set to the required size, no entry limit, map without READ/WRITE accepted (until a domain must map it), VADDR
/// and dirty bitmaps refused, real hole punching in TYPE1 mode, and size written back on errors.
/// </summary>
internal sealed unsafe partial class IommufdFile
{
    private const uint CompatRead = (uint)Constants.VFIO_DMA_MAP_FLAG_READ, CompatWrite = (uint)Constants.VFIO_DMA_MAP_FLAG_WRITE, CompatUnmapAll = (uint)Constants.VFIO_DMA_UNMAP_FLAG_ALL;

    /// <summary>A group was set to this context: no-IOMMU groups switch on no-IOMMU mode, others get the compat IOAS.</summary>
    public bool NoIommuMode { get; private set; }

    internal int CompatAddGroup(EmulatedDevice device)
    {
        using (EnterExclusive())
        {
            if (device.NoIommu)
            {
                if (CompatIoas is not null)
                {
                    return Fail(Errno.EINVAL, "a compat IOAS exists; no-IOMMU mode cannot be set");
                }

                NoIommuMode = true;
            }
            else if (NoIommuMode)
            {
                return Fail(Errno.EINVAL, "the context is in no-IOMMU mode; no compat IOAS can be made");
            }
            else if (CompatIoas is null)
            {
                var ioas = NewIoas();
                Objects.Add(ioas);
                CompatIoas = ioas;
            }

            return 0;
        }
    }

    private int VfioCompatIoctl(uint request, nint argument)
    {
        // vfio_compat.c: iommufd_vfio_ioctl answers the version without looking at the context.
        if (request == Constants.VFIO_GET_API_VERSION)
        {
            return Constants.VFIO_API_VERSION;
        }

        using (EnterExclusive())
        {
            switch (request)
            {
                case Constants.VFIO_CHECK_EXTENSION:
                    return CompatCheckExtension((ulong)argument);
                case Constants.VFIO_SET_IOMMU:
                    return CompatSetIommu((ulong)argument);
                case Constants.VFIO_IOMMU_GET_INFO:
                    return CompatGetInfo((ulong)argument);
                case Constants.VFIO_IOMMU_MAP_DMA:
                    return UserAccess.TryRead((ulong)argument, out vfio_iommu_type1_dma_map map) ? CompatMap(ref map) : Fail(Errno.EFAULT, "the vfio_iommu_type1_dma_map cannot be read");
                case Constants.VFIO_IOMMU_UNMAP_DMA:
                    return CompatUnmap((ulong)argument);
                default:
                    return Fail(Errno.ENOTTY, $"0x{request:X} is neither an iommufd ioctl nor a container ioctl iommufd serves");
            }
        }
    }

    /// <summary>vfio_compat.c: iommufd_vfio_cc_iommu: every domain of the compat IOAS enforces cache coherency.</summary>
    private static bool CompatCacheCoherent(IoasObject ioas)
    {
        foreach (HwptPagingObject domain in ioas.Iopt.Domains)
        {
            if (!domain.Iommu.EnforcesCacheCoherency)
            {
                return false;
            }
        }

        return true;
    }

    private int CompatCheckExtension(ulong extension) => extension switch
    {
        (ulong)Constants.VFIO_TYPE1_IOMMU or (ulong)Constants.VFIO_TYPE1v2_IOMMU or (ulong)Constants.VFIO_UNMAP_ALL => NoIommuMode ? 0 : 1,
        (ulong)Constants.VFIO_NOIOMMU_IOMMU => 1,
        (ulong)Constants.VFIO_DMA_CC_IOMMU => CompatIoas is null ? Fail(Errno.ENODEV, "no compat IOAS") : CompatCacheCoherent(CompatIoas) ? 1 : 0,
        _ => 0,
    };

    private int CompatSetIommu(ulong type)
    {
        if (type == (ulong)Constants.VFIO_NOIOMMU_IOMMU && NoIommuMode)
        {
            return ProcessCapabilities.Has(ProcessCapabilities.CAP_SYS_RAWIO) ? 0 : Fail(Errno.EPERM, "no-IOMMU mode needs CAP_SYS_RAWIO");
        }

        if (type is not ((ulong)Constants.VFIO_TYPE1_IOMMU or 3) || NoIommuMode)
        {
            return Fail(Errno.EINVAL, $"iommufd serves TYPE1 and TYPE1v2 only, not {type}");
        }

        if (CompatIoas is not IoasObject ioas)
        {
            return Fail(Errno.ENODEV, "no compat IOAS (set a group to this fd first)");
        }

        // TYPE1 needs v1 hole punching, so huge IOPTEs are turned off for this IOAS (iopt_disable_large_pages).
        if (type == (ulong)Constants.VFIO_TYPE1_IOMMU && DisableHugePages(ioas) is int failed)
        {
            return failed;
        }

        return 0;
    }

    /// <summary>
    /// vfio_compat.c: iommufd_vfio_iommu_get_info. The capabilities go out one copy at a time, each only
    /// where it fits (IOVA ranges even one by one), then the previous capability's <c>next</c>, then the
    /// info header; the first copy that faults is the EFAULT, with what came before it already written.
    /// </summary>
    private int CompatGetInfo(ulong arg)
    {
        var info = default(vfio_iommu_type1_info);
        const int MinSize = (int)IoctlMinSizes.VFIO_IOMMU_GET_INFO;
        if (!UserAccess.TryRead(arg, new Span<byte>(&info, MinSize)))
        {
            return Fail(Errno.EFAULT, "the vfio_iommu_type1_info cannot be read");
        }

        uint argsz = info.argsz;
        if (argsz < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} is below {MinSize}");
        }

        if (CompatIoas is not IoasObject ioas)
        {
            return Fail(Errno.ENODEV, "no compat IOAS");
        }

        // vfio_compat.c: iommufd_get_pagesizes: what every domain of the IOAS takes, at least a CPU page,
        // and never below the IOAS's IOVA alignment (a max of the two numbers, not a mask).
        ulong pageSizes = ulong.MaxValue;
        foreach (HwptPagingObject domain in ioas.Iopt.Domains)
        {
            pageSizes &= domain.Iommu.PageSizes;
        }

        if ((pageSizes & (LinuxConstants.PageSize - 1)) != 0)
        {
            pageSizes = (pageSizes & ~(ulong)(LinuxConstants.PageSize - 1)) | LinuxConstants.PageSize;
        }

        pageSizes = Math.Max(pageSizes, ioas.Iopt.Alignment);

        Span<(ulong Start, ulong Last)> holes = ioas.Iopt.Reserved.Length < 32 ? stackalloc (ulong, ulong)[ioas.Iopt.Reserved.Length + 1] : new (ulong, ulong)[ioas.Iopt.Reserved.Length + 1];
        holes = holes[..ioas.Iopt.Holes(holes)];
        uint infoSize = (uint)sizeof(vfio_iommu_type1_info);

        // iommufd_fill_cap_dma_avail: next is 0 here, set by the put_user below once the chain goes on.
        uint availAt = infoSize;
        var avail = new vfio_iommu_type1_info_dma_avail { header = new vfio_info_cap_header { id = (ushort)Constants.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version = 1 }, avail = uint.MaxValue };
        if (argsz > availAt && argsz - availAt >= (uint)sizeof(vfio_iommu_type1_info_dma_avail) && !UserAccess.TryWrite(arg + availAt, avail))
        {
            return Fail(Errno.EFAULT, "the DMA_AVAIL capability cannot be written");
        }

        // iommufd_fill_cap_iova: each range as it fits, then the header if the whole capability fits.
        uint rangesAt = availAt + (uint)IommuInfoCapabilities.DmaAvailSize;
        ulong room = argsz > rangesAt ? argsz - rangesAt : 0;
        uint header = (uint)sizeof(vfio_iommu_type1_info_cap_iova_range);
        for (int i = 0; i < holes.Length; i++)
        {
            var range = new vfio_iova_range { start = holes[i].Start, end = holes[i].Last };
            if (room >= header + ((ulong)(i + 1) * (ulong)sizeof(vfio_iova_range)) && !UserAccess.TryWrite(arg + rangesAt + header + ((ulong)i * (ulong)sizeof(vfio_iova_range)), range))
            {
                return Fail(Errno.EFAULT, "an IOVA range cannot be written");
            }
        }

        var iovaCap = new vfio_iommu_type1_info_cap_iova_range { header = new vfio_info_cap_header { id = (ushort)Constants.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version = 1 }, nr_iovas = (uint)holes.Length };
        uint rangeSize = (uint)IommuInfoCapabilities.IovaRangeSize(holes.Length);
        if (room >= rangeSize && !UserAccess.TryWrite(arg + rangesAt, new ReadOnlySpan<byte>(&iovaCap, (int)header)))
        {
            return Fail(Errno.EFAULT, "the IOVA_RANGE capability cannot be written");
        }

        if (argsz >= rangesAt && !UserAccess.TryWrite(arg + availAt + 4, rangesAt))
        {
            return Fail(Errno.EFAULT, "the DMA_AVAIL capability's next cannot be written");
        }

        uint total = rangesAt + ((rangeSize + 7) & ~7u);
        var result = new vfio_iommu_type1_info
        {
            argsz = total,
            flags = (uint)(Constants.VFIO_IOMMU_INFO_PGSIZES | Constants.VFIO_IOMMU_INFO_CAPS),
            iova_pgsizes = pageSizes,
            cap_offset = argsz >= total ? infoSize : 0,
        };
        int back = (int)Math.Min(argsz, infoSize);
        return UserAccess.TryWrite(arg, new ReadOnlySpan<byte>(&result, back)) ? 0 : Fail(Errno.EFAULT, "the vfio_iommu_type1_info cannot be written back");
    }

    private int CompatMap(ref vfio_iommu_type1_dma_map map)
    {
        if (map.argsz < IoctlMinSizes.VFIO_IOMMU_MAP_DMA || (map.flags & ~(CompatRead | CompatWrite)) != 0)
        {
            return Fail(Errno.EINVAL, map.argsz < IoctlMinSizes.VFIO_IOMMU_MAP_DMA ? $"argsz {map.argsz} is below {IoctlMinSizes.VFIO_IOMMU_MAP_DMA}" : $"flags 0x{map.flags:X}: iommufd's compat layer takes READ and WRITE only (no VADDR)");
        }

        if (CompatIoas is not IoasObject ioas)
        {
            return Fail(Errno.ENODEV, "no compat IOAS");
        }

        // iopt_alloc_user_pages: vaddr + size must not wrap, then iopt_alloc_pages: size neither 0 nor past the page count.
        if (map.vaddr + map.size < map.vaddr)
        {
            return Fail(Errno.EOVERFLOW, "vaddr + size wraps");
        }

        if (map.size == 0 || map.size > ulong.MaxValue - LinuxConstants.PageSize)
        {
            return Fail(Errno.EINVAL, $"size 0x{map.size:X} is zero or too large");
        }

        // A map with neither READ nor WRITE is accepted here (type1 refuses it); a domain refuses it when it fills.
        uint flags = Fixed | ((map.flags & CompatRead) != 0 ? Readable : 0) | ((map.flags & CompatWrite) != 0 ? Writeable : 0);
        Pages pages = ioas.Iopt.RentPages().Reset(map.vaddr, map.size, null, 0, (map.flags & CompatWrite) != 0, Kernel.Accounting.ModeFor(AccountMm));
        ulong iova = map.iova;
        int rc = MapPages(ioas, pages, 0, map.size, flags, ref iova);
        ioas.Iopt.ReleaseIfUnused(pages);
        return rc;
    }

    /// <summary>vfio_compat.c: iommufd_vfio_unmap_dma; size goes back (what was unmapped) unless the checks or the cuts failed.</summary>
    private int CompatUnmap(ulong arg)
    {
        if (!UserAccess.TryRead(arg, out vfio_iommu_type1_dma_unmap unmap))
        {
            return Fail(Errno.EFAULT, "the vfio_iommu_type1_dma_unmap cannot be read");
        }

        if (unmap.argsz < IoctlMinSizes.VFIO_IOMMU_UNMAP_DMA || (unmap.flags & ~CompatUnmapAll) != 0)
        {
            return Fail(Errno.EINVAL, unmap.argsz < IoctlMinSizes.VFIO_IOMMU_UNMAP_DMA ? $"argsz {unmap.argsz} is below {IoctlMinSizes.VFIO_IOMMU_UNMAP_DMA}" : $"flags 0x{unmap.flags:X}: only ALL is served (no GET_DIRTY_BITMAP, no VADDR)");
        }

        if (CompatIoas is not IoasObject ioas)
        {
            return Fail(Errno.ENODEV, "no compat IOAS");
        }

        ulong iova = unmap.iova, size = unmap.size, last;
        if ((unmap.flags & CompatUnmapAll) != 0)
        {
            if (iova != 0 || size != 0)
            {
                return Fail(Errno.EINVAL, "ALL needs iova and size 0");
            }

            last = ulong.MaxValue;
        }
        else
        {
            // iopt_cut_iova first, at iova + size - 1 and iova - 1 computed as the kernel does (wrapping):
            // a failed cut answers without writing size back.
            if (!ioas.Iopt.HugePages)
            {
                ulong endCut = unchecked(iova + size - 1);
                if ((CutAfter(ioas, endCut) ?? (iova != 0 ? CutAfter(ioas, iova - 1) : null)) is int cutFailed)
                {
                    return cutFailed;
                }
            }

            // iopt_unmap_iova: these failures still write size (0) back.
            int? invalid = size == 0 ? Fail(Errno.EINVAL, "size is 0")
                : iova + (size - 1) < iova ? Fail(Errno.EOVERFLOW, "iova + size wraps") : null;
            if (invalid is int failed)
            {
                unmap.size = 0;
                return UserAccess.TryWrite(arg, unmap) ? failed : Fail(Errno.EFAULT, "the unmapped size cannot be written back");
            }

            last = iova + (size - 1);
        }

        ulong unmapped = ioas.Iopt.Unmap(iova, last, out int rc);
        unmap.size = unmapped;                // written back even when the unmap failed part way
        return UserAccess.TryWrite(arg, unmap) ? rc : Fail(Errno.EFAULT, "the unmapped size cannot be written back");
    }

    /// <summary>iopt_cut_iova for one point: the area holding <paramref name="last"/> ends there afterwards.</summary>
    private static int? CutAfter(IoasObject ioas, ulong last) => ioas.Iopt.Split(last);
}
