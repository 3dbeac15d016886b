
namespace Abi.Engine.Iommufd;

/// <summary>A device access the IOMMU refused: the IOVA, whether it was a write, and why.</summary>
public readonly record struct IommuFault(ulong Iova, bool Write, IommuFaultReason Reason);

/// <summary>Why a device access faulted.</summary>
public enum IommuFaultReason
{
    /// <summary>Nothing is mapped at the IOVA.</summary>
    Unmapped,

    /// <summary>The mapping does not allow the access (a write to a read-only mapping, or a read of a write-only one).</summary>
    Permission,

    /// <summary>The mapping points at memory the engine does not know, so it refuses to touch it.</summary>
    UnknownMemory,

    /// <summary>The device is not attached to any page table: its DMA is blocked.</summary>
    Blocked,

    /// <summary>Bus mastering is off in the device's command register, so it cannot issue DMA (not an IOMMU fault, but reported the same way).</summary>
    BusMasterDisabled,
}
