using Abi.Linux;

namespace Abi.Engine.Iommufd;

/// <summary>
/// What a device attaches to: a paging HWPT (an IOMMU domain over an IOAS), or a nested one (a
/// stage-1 table the user owns on top of a paging parent). Either way DMA ends in the IOAS of
/// <see cref="Paging"/>, and the device's reserved regions go there.
/// </summary>
internal abstract class HwptObject(uint flags, FaultObject? fault) : IommufdObject
{
    public uint Flags { get; } = flags;

    /// <summary>The fault queue its I/O page faults go to (IOMMU_HWPT_FAULT_ID_VALID).</summary>
    public FaultObject? Fault { get; } = fault;

    /// <summary>Allocated with IOMMU_HWPT_ALLOC_PASID: the domain may serve PASIDs, and the RID next to them.</summary>
    public bool PasidCompat => (Flags & (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_PASID) != 0;

    /// <summary>The paging HWPT whose IOAS translates: itself, or a nested HWPT's parent.</summary>
    public abstract HwptPagingObject Paging { get; }

    /// <summary>The IOAS DMA ends in.</summary>
    public abstract IoasObject Ioas { get; }
}
