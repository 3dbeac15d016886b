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
/// argsz always set to the required size, no entry limit, map without READ/WRITE accepted, VADDR
/// and dirty bitmaps refused, real hole punching in TYPE1 mode, and size written back on errors.
/// </summary>
internal sealed unsafe partial class IommufdFile
{
    private const uint CompatRead = 1, CompatWrite = 2, CompatUnmapAll = 2;

    /// <summary>A group was set to this context: no-IOMMU groups switch on no-IOMMU mode, others get the compat IOAS.</summary>
    public bool NoIommuMode { get; private set; }

    internal int CompatAddGroup(EmulatedDevice device)
    {
        lock (_lock)
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
                var ioas = new IoasObject { Memory = Kernel.Memory, Accounting = Kernel.Accounting };
                Objects.Add(ioas);
                CompatIoas = ioas;
            }

            return 0;
        }
    }

    private int VfioCompatIoctl(uint request, nint argument)
    {
        lock (_lock)
        {
            switch (request)
            {
                case Constants.VFIO_GET_API_VERSION:
                    return Constants.VFIO_API_VERSION;
                case Constants.VFIO_CHECK_EXTENSION:
                    return CompatCheckExtension((ulong)argument);
                case Constants.VFIO_SET_IOMMU:
                    return CompatSetIommu((ulong)argument);
                case Constants.VFIO_IOMMU_GET_INFO or Constants.VFIO_IOMMU_MAP_DMA or Constants.VFIO_IOMMU_UNMAP_DMA when argument == 0:
                    return Fail(Errno.EFAULT, "the argument pointer is NULL");
                case Constants.VFIO_IOMMU_GET_INFO:
                    return CompatGetInfo((byte*)argument);
                case Constants.VFIO_IOMMU_MAP_DMA:
                    return CompatMap(ref *(vfio_iommu_type1_dma_map*)argument);
                case Constants.VFIO_IOMMU_UNMAP_DMA:
                    return CompatUnmap(ref *(vfio_iommu_type1_dma_unmap*)argument);
                default:
                    return Fail(Errno.ENOTTY, $"0x{request:X} is neither an iommufd ioctl nor a container ioctl iommufd serves");
            }
        }
    }

    private int CompatCheckExtension(ulong extension) => extension switch
    {
        (ulong)Constants.VFIO_TYPE1_IOMMU or 3 or 9 => NoIommuMode ? 0 : 1,
        (ulong)Constants.VFIO_NOIOMMU_IOMMU => 1,
        4 => CompatIoas is null ? Fail(Errno.ENODEV, "no compat IOAS") : 1,
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

        if (type == (ulong)Constants.VFIO_TYPE1_IOMMU && ioas.HugePages)
        {
            // TYPE1 needs v1 hole punching, so huge IOPTEs are turned off for this IOAS.
            if (ioas.Domains.Length > 0 && ioas.Areas.Count > 0)
            {
                return Fail(Errno.EINVAL, "huge pages cannot be turned off: the compat IOAS has domains and mappings");
            }

            ioas.HugePages = false;
            ioas.RecomputeAlignment();
        }

        return 0;
    }

    private int CompatGetInfo(byte* arg)
    {
        ref vfio_iommu_type1_info info = ref *(vfio_iommu_type1_info*)arg;
        uint argsz = info.argsz;
        if (argsz < 16)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} is below 16");
        }

        if (CompatIoas is not IoasObject ioas)
        {
            return Fail(Errno.ENODEV, "no compat IOAS");
        }

        ulong pageSizes = ioas.Domains.Length > 0 ? EngineIommu.PageSizes : ulong.MaxValue;
        if ((pageSizes & (LinuxConstants.PageSize - 1)) != 0)
        {
            pageSizes = (pageSizes & ~(ulong)(LinuxConstants.PageSize - 1)) | LinuxConstants.PageSize;
        }

        pageSizes &= ~(ioas.Alignment - 1);

        Span<(ulong Start, ulong Last)> holes = ioas.Reserved.Length < 32 ? stackalloc (ulong, ulong)[ioas.Reserved.Length + 1] : new (ulong, ulong)[ioas.Reserved.Length + 1];
        holes = holes[..ioas.Holes(holes)];
        int infoSize = sizeof(vfio_iommu_type1_info);
        int availSize = IommuInfoCapabilities.DmaAvailSize;
        uint total = (uint)(infoSize + availSize + IommuInfoCapabilities.IovaRangeSize(holes.Length));

        // Each capability is written if it fits; cap_offset only when the whole chain does.
        if (argsz >= infoSize + availSize)
        {
            IommuInfoCapabilities.WriteDmaAvail(arg + infoSize, uint.MaxValue, next: (uint)(infoSize + availSize));
        }

        if (argsz >= total)
        {
            IommuInfoCapabilities.WriteIovaRange(arg + infoSize + availSize, holes, next: 0);
        }

        var result = new vfio_iommu_type1_info
        {
            argsz = total,
            flags = (uint)(Constants.VFIO_IOMMU_INFO_PGSIZES | Constants.VFIO_IOMMU_INFO_CAPS),
            iova_pgsizes = pageSizes,
            cap_offset = argsz >= total ? (uint)infoSize : 0,
        };
        int back = (int)Math.Min(argsz, (uint)infoSize);
        new ReadOnlySpan<byte>(&result, back).CopyTo(new Span<byte>(arg, back));
        return 0;
    }

    private int CompatMap(ref vfio_iommu_type1_dma_map map)
    {
        if (map.argsz < 32 || (map.flags & ~(CompatRead | CompatWrite)) != 0)
        {
            return Fail(Errno.EINVAL, map.argsz < 32 ? $"argsz {map.argsz} is below 32" : $"flags 0x{map.flags:X}: iommufd's compat layer takes READ and WRITE only (no VADDR)");
        }

        if (CompatIoas is not IoasObject ioas)
        {
            return Fail(Errno.ENODEV, "no compat IOAS");
        }

        if (map.size == 0)
        {
            return Fail(Errno.EINVAL, "size is 0");
        }

        if (map.vaddr + (map.size - 1) < map.vaddr)
        {
            return Fail(Errno.EOVERFLOW, "vaddr + size wraps");
        }

        // A map with neither READ nor WRITE is accepted here (type1 refuses it).
        uint flags = Fixed | ((map.flags & CompatRead) != 0 ? Readable : 0) | ((map.flags & CompatWrite) != 0 ? Writeable : 0);
        Pages pages = RentPages().Reset(map.vaddr, map.size, null, 0, (map.flags & CompatWrite) != 0, Kernel.Accounting.ModeFor(AccountMm));
        ulong iova = map.iova;
        int rc = MapPages(ioas, pages, 0, map.size, flags, ref iova);
        ReturnIfUnused(pages);
        return rc;
    }

    private int CompatUnmap(ref vfio_iommu_type1_dma_unmap unmap)
    {
        if (unmap.argsz < 24 || (unmap.flags & ~CompatUnmapAll) != 0)
        {
            return Fail(Errno.EINVAL, unmap.argsz < 24 ? $"argsz {unmap.argsz} is below 24" : $"flags 0x{unmap.flags:X}: only ALL is served (no GET_DIRTY_BITMAP, no VADDR)");
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
            if (size == 0)
            {
                return Fail(Errno.EINVAL, "size is 0");
            }

            last = iova + (size - 1);
            if (last < iova)
            {
                return Fail(Errno.EOVERFLOW, "iova + size wraps");
            }

            if (!ioas.HugePages && (SplitAt(ioas, iova) ?? (last == ulong.MaxValue ? null : SplitAt(ioas, last + 1))) is int splitFailed)
            {
                unmap.size = 0;
                return splitFailed;
            }
        }

        ulong unmapped = UnmapRange(ioas, iova, last, out int rc);
        unmap.size = unmapped;                // written back even when the unmap failed part way
        return rc;
    }

    /// <summary>Cuts the area containing <paramref name="at"/> (if it starts before it) into two at <paramref name="at"/>: the compat layer's hole punching.</summary>
    private static int? SplitAt(IoasObject ioas, ulong at)
    {
        int i = ioas.LowerBound(at);
        if (i >= ioas.Areas.Count || ioas.Areas[i].Iova >= at)
        {
            return null;
        }

        Area area = ioas.Areas[i];
        if ((at & (ioas.Alignment - 1)) != 0 || ((area.Pages.SourceAddress + area.PagesOffset + (at - area.Iova)) & (ioas.Alignment - 1)) != 0)
        {
            return Fail(Errno.EINVAL, $"0x{at:X} is not aligned to 0x{ioas.Alignment:X}; the mapping cannot be split there");
        }

        if (ioas.Accesses.Exists(a => a.Pins.Any(p => p.Iova <= area.Last && area.Iova <= p.Last)))
        {
            return Fail(Errno.EINVAL, "an access has pinned the mapping; it cannot be split");
        }

        ioas.DmaLock.EnterWriteLock();
        try
        {
            ioas.RemoveAt(i);
            ioas.Insert(area with { Last = at - 1 });
            ioas.Insert(area with { Iova = at, PagesOffset = area.PagesOffset + (at - area.Iova) });
            area.Pages.Areas++;
        }
        finally
        {
            ioas.DmaLock.ExitWriteLock();
        }

        return null;
    }
}
