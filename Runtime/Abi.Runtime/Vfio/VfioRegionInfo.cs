using Abi.Linux;

namespace Abi.Runtime.Vfio;

/// <summary>What VFIO_DEVICE_GET_REGION_INFO reports for one region, with its sparse-mmap areas if it has them.</summary>
public sealed record VfioRegionInfo(uint Index, uint Flags, ulong Size, ulong Offset, IReadOnlyList<(ulong Offset, ulong Size)> SparseAreas)
{
    /// <summary>Readable with pread.</summary>
    public bool CanRead => (Flags & Constants.VFIO_REGION_INFO_FLAG_READ) != 0;

    /// <summary>Writable with pwrite.</summary>
    public bool CanWrite => (Flags & Constants.VFIO_REGION_INFO_FLAG_WRITE) != 0;

    /// <summary>Mappable with mmap (the parts <see cref="SparseAreas"/> name, when it has them).</summary>
    public bool CanMmap => (Flags & Constants.VFIO_REGION_INFO_FLAG_MMAP) != 0;
}
