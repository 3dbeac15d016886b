using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// Whether a new domain can join (io_pagetable.c: iopt_table_add_domain, then filling it with
/// every area): its page size and aperture against the areas and allowed ranges, then pinning,
/// charging and mapping every area, in the kernel's order.
/// </summary>
internal sealed partial class IoPagetable
{
    /// <summary>Why a new domain of <paramref name="iommu"/> cannot join the table, as an errno, or null.</summary>
    public int? AddDomainRefusal(IommuUnit iommu) => DomainPageRefusal(iommu) ?? PinRefusal() ?? FirstDomainChargeRefusal() ?? ProtectionRefusal();

    /// <summary>iopt_reserve_iova's refusal: an area or an allowed range meets [start, last].</summary>
    private bool OutsideAperture(ulong start, ulong last)
    {
        if (IntersectsArea(start, last))
        {
            return true;
        }

        foreach ((ulong s, ulong l) in Allowed)
        {
            if (s <= last && l >= start)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Why a new domain of <paramref name="iommu"/> cannot join the table (a mapping or an allowed range outside its aperture, or mappings not aligned to its pages), or null.</summary>
    private int? DomainPageRefusal(IommuUnit iommu)
    {
        // io_pagetable.c: iopt_table_add_domain's order: the new IOVA alignment (EINVAL past a page,
        // EADDRINUSE for a mapping it would split), then the aperture: nothing mapped or allowed outside it.
        ulong page = Math.Max(iommu.MinPageSize, Alignment);
        if (page > LinuxConstants.PageSize)
        {
            return Fail(Errno.EINVAL, $"the IOMMU's smallest page 0x{page:X} is larger than the CPU's");
        }

        if (page != Alignment)
        {
            foreach (Area area in Areas)
            {
                if (area.Iova % page != 0 || area.Length % page != 0 || (area.Pages.SourceAddress + area.PagesOffset) % page != 0)
                {
                    return Fail(Errno.EADDRINUSE, $"the mapping at 0x{area.Iova:X} is not aligned to the IOMMU's 0x{page:X}-byte pages");
                }
            }
        }

        if ((iommu.ApertureStart > 0 && OutsideAperture(0, iommu.ApertureStart - 1))
            || (iommu.ApertureLast < ulong.MaxValue && OutsideAperture(iommu.ApertureLast + 1, ulong.MaxValue)))
        {
            return Fail(Errno.EADDRINUSE, $"the IOAS maps or allows IOVA outside the IOMMU's aperture [0x{iommu.ApertureStart:X}, 0x{iommu.ApertureLast:X}]");
        }

        return null;
    }

    /// <summary>Filling a new domain pins every mapping: user memory the engine does not know is EFAULT.</summary>
    private int? PinRefusal()
    {
        foreach (Area area in Areas)
        {
            if (area.Pages.FileDescriptor is null && Memory?.ContainsPinnable(area.Pages.UserVa + area.PagesOffset, area.Length, area.Pages.Writable) != true)
            {
                return Fail(Errno.EFAULT, $"the mapping at 0x{area.Iova:X} points at memory the engine does not know; it cannot be pinned for a domain");
            }

            if (area.Pages.FileRefusesPin(area.PagesOffset, area.Length))
            {
                return Fail(Errno.EINVAL, $"the mapping at 0x{area.Iova:X} is of a file that is not shmem or hugetlbfs, or runs past its end; a domain cannot pin it (memfd_pin_folios)");
            }
        }

        return null;
    }

    /// <summary>Filling a domain maps every area with its protection: an area neither readable nor writable (from the compat layer) is refused.</summary>
    private int? ProtectionRefusal()
    {
        foreach (Area area in Areas)
        {
            if (!area.Readable && !area.Writable)
            {
                return Fail(Errno.EINVAL, $"the mapping at 0x{area.Iova:X} has neither read nor write; the domain's page table refuses it");
            }
        }

        return null;
    }

    /// <summary>A first domain pins every mapping of the IOAS: over RLIMIT_MEMLOCK is ENOMEM.</summary>
    private int? FirstDomainChargeRefusal()
    {
        (long user, long mm) = ChargeForFirstDomain();
        if ((user | mm) != 0 && (Injection?.ShouldFail("pages.account") == true || Accounting?.Fits(user, mm) == false))
        {
            return Fail(Errno.ENOMEM, $"pinning the table's {user + mm} mapped pages for a domain would pass RLIMIT_MEMLOCK ({Accounting?.LimitPages} pages)");
        }

        return null;
    }
}
