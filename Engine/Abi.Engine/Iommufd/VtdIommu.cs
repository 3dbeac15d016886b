using Abi.Linux;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The engine's Intel VT-d unit (<see cref="EngineIommu"/>): second-stage paging domains with
/// dirty tracking and the MSI window reserved; no nesting, no vIOMMU, no PASID, no user data, as
/// a VT-d driver answers for a unit without those features.
/// </summary>
internal sealed record VtdIommu : IommuUnit
{
    public VtdIommu()
    {
        PageSizes = EngineIommu.PageSizes;
        ApertureStart = 0;
        ApertureLast = EngineIommu.ApertureLast;
        MsiWindow = true;
        DirtyTracking = true;
        HwInfoType = (uint)iommu_hw_info_type.IOMMU_HW_INFO_TYPE_INTEL_VTD;
    }

    public override ulong HwCapabilities => EngineIommu.Capabilities;

    /// <summary><c>struct iommu_hw_info_vtd</c>: cap_reg and ecap_reg.</summary>
    public override unsafe int HwInfo(Span<byte> blob)
    {
        var vtd = new iommu_hw_info_vtd { cap_reg = EngineIommu.CapReg, ecap_reg = EngineIommu.EcapReg };
        new ReadOnlySpan<byte>(&vtd, sizeof(iommu_hw_info_vtd)).CopyTo(blob);
        return sizeof(iommu_hw_info_vtd);
    }
}
