namespace Abi.Engine;

/// <summary>
/// A dma-buf as IOMMU_IOAS_MAP_FILE sees one (<c>iopt_map_file_pages</c> and the dma-buf importer in
/// <c>drivers/iommu/iommufd/pages.c</c>): a length in whole pages that an exporter may revoke and
/// restore. The importer never pins or charges it. Exporters derive from it (the selftest's
/// <c>IOMMU_TEST_OP_DMABUF_GET</c> is the only one the engine has).
/// </summary>
internal abstract class DmaBufFile(ulong length) : EngineFile
{
    public override string Name => "dmabuf:";

    public ulong Length { get; } = length;

    /// <summary>Revoked by its exporter: new mappings fail with ENODEV; existing areas stay, with nothing behind them in the domains.</summary>
    public volatile bool Revoked;
}
