
namespace Abi.Engine.Selftest;

/// <summary>
/// The dma-buf IOMMU_TEST_CMD's DMABUF_GET exports: a buffer of whole pages that IOMMU_IOAS_MAP_FILE
/// accepts as a dma-buf, and that DMABUF_REVOKE can revoke and restore. While revoked, new mappings
/// of it fail with ENODEV; existing areas stay, with nothing behind them in the domains. Mappings
/// keep the buffer alive after its fd is closed, as a dma-buf attachment does. Its contents are
/// not modelled: device DMA to it is refused like DMA to any MAP_FILE area.
/// </summary>
internal sealed class SelftestDmaBuf(ulong length) : DmaBufFile(length)
{
}
