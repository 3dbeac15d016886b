namespace Abi.Runtime.Engine.Iommufd;

/// <summary>A device access the IOMMU refused: the IOVA, whether it was a write, and why.</summary>
internal readonly record struct IommuFault(ulong Iova, bool Write, IommuFaultReason Reason);

/// <summary>Why a device access faulted.</summary>
internal enum IommuFaultReason
{
    /// <summary>Nothing is mapped at the IOVA.</summary>
    Unmapped,

    /// <summary>The mapping does not allow the access (a write to a read-only mapping, or a read of a write-only one).</summary>
    Permission,

    /// <summary>The mapping points at memory the engine does not know, so it refuses to touch it.</summary>
    UnknownMemory,
}
