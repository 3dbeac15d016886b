using Abi.Linux;

namespace Abi.Engine.Vfio;

/// <summary>
/// The capabilities of VFIO_IOMMU_GET_INFO that both container backends (type1 and iommufd's
/// compat layer) write: DMA_AVAIL and IOVA_RANGE. Each is 8-byte aligned; <c>next</c> is an
/// offset from the start of the caller's info buffer (0 ends the chain).
/// </summary>
internal static unsafe class IommuInfoCapabilities
{
    public static int DmaAvailSize => (sizeof(vfio_iommu_type1_info_dma_avail) + 7) & ~7;

    public static int IovaRangeSize(int ranges) => sizeof(vfio_iommu_type1_info_cap_iova_range) + (ranges * sizeof(vfio_iova_range));

    public static void WriteDmaAvail(byte* at, uint avail, uint next) =>
        *(vfio_iommu_type1_info_dma_avail*)at = new vfio_iommu_type1_info_dma_avail { header = new vfio_info_cap_header { id = (ushort)Constants.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, version = 1, next = next }, avail = avail };

    /// <summary>Writes the IOVA_RANGE capability with inclusive ranges.</summary>
    public static void WriteIovaRange(byte* at, ReadOnlySpan<(ulong Start, ulong Last)> ranges, uint next)
    {
        var cap = (vfio_iommu_type1_info_cap_iova_range*)at;
        *cap = new vfio_iommu_type1_info_cap_iova_range { header = new vfio_info_cap_header { id = (ushort)Constants.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, version = 1, next = next }, nr_iovas = (uint)ranges.Length };
        var list = (vfio_iova_range*)(at + sizeof(vfio_iommu_type1_info_cap_iova_range));
        for (int i = 0; i < ranges.Length; i++)
        {
            list[i] = new vfio_iova_range { start = ranges[i].Start, end = ranges[i].Last };
        }
    }
}
