using Abi.Linux;

namespace Abi.Engine.Iommufd;

/// <summary>
/// A paging HWPT: an IOMMU domain built on one IOAS. The domain mirrors every area of its IOAS
/// (iommufd fills each domain with all mappings), so translation goes through the IOAS; what is
/// the domain's own is its flags, its dirty-tracking state and bits, and the aperture it imposes.
/// An automatic HWPT (made by attaching a device to an IOAS) dies with its last device; an
/// explicit one (IOMMU_HWPT_ALLOC) lives until IOMMU_DESTROY. Its users are the attached devices.
/// </summary>
internal sealed class HwptPagingObject : HwptObject
{
    public HwptPagingObject(IoasObject ioas, bool automatic, uint flags, FaultObject? fault, IommuUnit iommu)
        : base(flags, fault)
    {
        Iommu = iommu;
        Ioas = ioas;
        Automatic = automatic;
        Dirty = new DirtyBitmap(iommu.DirtyGranuleShift);
    }

    public override ObjectKind Kind => ObjectKind.HwptPaging;

    public override IoasObject Ioas { get; }

    public override HwptPagingObject Paging => this;

    /// <summary>The IOMMU whose domain this is: page sizes and aperture.</summary>
    public IommuUnit Iommu { get; }

    public bool Automatic { get; }

    /// <summary>Allocated with IOMMU_HWPT_ALLOC_NEST_PARENT: nested HWPTs may be built on it.</summary>
    public bool NestParent => (Flags & (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_NEST_PARENT) != 0;

    /// <summary>Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING: the domain has dirty ops.</summary>
    public bool HasDirtyOps => (Flags & (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING) != 0;

    /// <summary>Whether device writes set dirty bits now (IOMMU_HWPT_SET_DIRTY_TRACKING).</summary>
    public volatile bool Tracking;

    public DirtyBitmap Dirty { get; }

    /// <summary>Links the domain into its IOAS: the IOAS and fault queue gain a user, the aperture becomes reserved.</summary>
    public void AddToIoas()
    {
        Ioas.Users++;
        Ioas.Iopt.AddDomain(this);
        Ioas.Iopt.DomainsChanged(joined: true);
        if (Iommu.ApertureStart > 0)
        {
            Ioas.Iopt.AddReserved(new ReservedRange(0, Iommu.ApertureStart - 1, this));
        }

        if (Iommu.ApertureLast < ulong.MaxValue)
        {
            Ioas.Iopt.AddReserved(new ReservedRange(Iommu.ApertureLast + 1, ulong.MaxValue, this));
        }

        Ioas.Iopt.RecomputeAlignment();
        if (Fault is not null)
        {
            Fault.Users++;
        }
    }

    /// <summary>
    /// The IOPTE that maps <paramref name="iova"/> (which an area maps), as [start, start + size):
    /// a huge leaf when the domain has one and the whole aligned block sits in one area whose
    /// source is aligned the same way (physical contiguity is not modelled: an aligned source
    /// stands for it), else the dirty granule.
    /// </summary>
    public (ulong Start, ulong Size) IopteAt(ulong iova, in Area area)
    {
        ulong leaf = Iommu.HugeLeaf;
        if (leaf != 0)
        {
            ulong block = iova & ~(leaf - 1);
            if (block >= area.Iova && block + (leaf - 1) <= area.Last && area.SourceOf(block) % leaf == 0)
            {
                return (block, leaf);
            }
        }

        ulong granule = 1UL << Iommu.DirtyGranuleShift;
        return (iova & ~(granule - 1), granule);
    }

    public override void Destroyed()
    {
        Ioas.Users--;
        Ioas.Iopt.RemoveDomain(this);
        Ioas.Iopt.DomainsChanged(joined: false);
        Ioas.Iopt.RemoveReserved(this);
        Ioas.Iopt.RecomputeAlignment();
        if (Fault is not null)
        {
            Fault.Users--;
        }
    }
}
