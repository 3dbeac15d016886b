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
    public int? AddDomainRefusal(IommuUnit iommu) => DomainPageRefusal(iommu) ?? FillRefusal();

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

    /// <summary>
    /// io_pagetable.c: iopt_fill_domain goes area by area in IOVA order (iopt_area_fill_domain): it pins
    /// the area's pages (EFAULT for memory the engine does not know, EINVAL for a file memfd_pin_folios
    /// refuses), maps them (EINVAL for an area with neither read nor write, which only the VFIO compat
    /// layer makes), then charges what it newly pinned (a first domain: ENOMEM past RLIMIT_MEMLOCK).
    /// The first area that fails decides the answer (seed 5330 of a 500-call --vfio run: a later area's
    /// EFAULT was answered before an earlier area's EINVAL). Nothing stays pinned or charged.
    /// </summary>
    private int? FillRefusal()
    {
        bool charges = _domains.Count == 0;
        bool asked = false;
        long user = 0, mm = 0;
        int pinned = 0;
        int? refused = null;
        foreach (Area area in Areas)
        {
            if (area.Pages.FileDescriptor is null && Memory?.ContainsPinnable(area.Pages.UserVa + area.PagesOffset, area.Length, area.Pages.Writable) != true)
            {
                refused = Fail(Errno.EFAULT, $"the mapping at 0x{area.Iova:X} points at memory the engine does not know; it cannot be pinned for a domain");
                break;
            }

            if (area.Pages.FileRefusesPin(area.PagesOffset, area.Length))
            {
                refused = Fail(Errno.EINVAL, $"the mapping at 0x{area.Iova:X} is of a file that is not shmem or hugetlbfs, or runs past its end; a domain cannot pin it (memfd_pin_folios)");
                break;
            }

            if (!area.Readable && !area.Writable)
            {
                refused = Fail(Errno.EINVAL, $"the mapping at 0x{area.Iova:X} has neither read nor write; the domain's page table refuses it");
                break;
            }

            if (!charges)
            {
                continue;
            }

            // Two areas over the same pages pin them once: the pins taken so far are undone below.
            Pages.AddCharge(area.Pages.Mode, area.Pages.Pin(area.PagesOffset, area.Length, 1), ref user, ref mm);
            pinned++;
            if ((user | mm) != 0 && !asked)
            {
                asked = true;
                if (Injection?.ShouldFail("pages.account") == true)
                {
                    refused = Fail(Errno.ENOMEM, "injected failure: pages.account");
                    break;
                }
            }

            if ((user | mm) != 0 && Accounting?.Fits(user, mm) == false)
            {
                refused = Fail(Errno.ENOMEM, $"pinning the table's mapped pages for a domain would pass RLIMIT_MEMLOCK ({Accounting?.LimitPages} pages) at the mapping at 0x{area.Iova:X}");
                break;
            }
        }

        foreach (Area area in Areas)
        {
            if (pinned-- == 0)
            {
                break;
            }

            area.Pages.Pin(area.PagesOffset, area.Length, -1);
        }

        return refused;
    }
}
