using Abi.Runtime.Kernel;

namespace Abi.Runtime.Memory;

/// <summary>
/// Where a driver maps the memory its device will reach: an iommufd IOAS (<see cref="Vfio.Ioas"/>)
/// or a legacy VFIO container (<see cref="Vfio.VfioContainer"/>). A driver written against this
/// runs on either, as DPDK's does.
/// </summary>
public interface IDmaMapper
{
    /// <summary>The backend the mappings live in; buffers must come from it too.</summary>
    IKernel Kernel { get; }

    /// <summary>Maps <paramref name="buffer"/> for device reads and writes and returns its IOVA.</summary>
    ulong Map(DmaBuffer buffer);

    /// <summary>Removes the mapping at [<paramref name="iova"/>, +<paramref name="length"/>).</summary>
    void Unmap(ulong iova, ulong length);
}
