using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// An Intel VT-d unit (<see cref="EngineIommu"/>'s geometry: 48-bit second-stage paging domains with
/// 4 KiB, 2 MiB and 1 GiB pages and the MSI window reserved), described by its capability and
/// extended capability registers, from which the driver's answers follow as in
/// drivers/iommu/intel/iommu.c. No nesting, no vIOMMU, no user data. Two units exist:
/// <see cref="Engine"/> (scalable mode with second-stage A/D bits, so dirty tracking) and
/// <see cref="Qemu"/> (QEMU's intel-iommu with its defaults: legacy mode, no dirty tracking).
/// </summary>
internal sealed record VtdIommu : IommuUnit
{
    private const int EcapSc = 7, EcapSmts = 43, EcapSlads = 45;

    private VtdIommu(ulong capReg, ulong ecapReg)
    {
        CapReg = capReg;
        EcapReg = ecapReg;
        PageSizes = EngineIommu.PageSizes;
        ApertureStart = 0;
        ApertureLast = EngineIommu.ApertureLast;
        MsiWindow = true;

        // ssads_supported: scalable mode and second-stage access/dirty bits (IOMMU_CAP_DIRTY_TRACKING).
        DirtyTracking = ((ecapReg >> EcapSmts) & 1) != 0 && ((ecapReg >> EcapSlads) & 1) != 0;
        HwInfoType = (uint)iommu_hw_info_type.IOMMU_HW_INFO_TYPE_INTEL_VTD;
    }

    /// <summary>The engine's own unit: <see cref="EngineIommu.CapReg"/>, <see cref="EngineIommu.EcapReg"/>.</summary>
    public static VtdIommu Engine { get; } = new(EngineIommu.CapReg, EngineIommu.EcapReg);

    /// <summary>
    /// QEMU's <c>-device intel-iommu,aw-bits=48</c> as a guest kernel reads it (7.2 and 10.0 alike,
    /// <c>/sys/class/iommu/dmar0/intel-iommu/{cap,ecap}</c>): cap 0xd2008c222f0606, ecap 0xf00f4a
    /// (queued invalidation, interrupt remapping, pass-through; no scalable mode, so no dirty tracking).
    /// </summary>
    public static VtdIommu Qemu { get; } = new(0xd2008c222f0606, 0xf00f4a);

    public ulong CapReg { get; }

    public ulong EcapReg { get; }

    /// <summary>intel_iommu_hw_info: dirty tracking when the unit has it; edu and the engine's functions have no ATS.</summary>
    public override ulong HwCapabilities =>
        (DirtyTracking ? (ulong)iommufd_hw_capabilities.IOMMU_HW_CAP_DIRTY_TRACKING : 0) | (ulong)iommufd_hw_capabilities.IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED;

    /// <summary>
    /// intel_iommu_attach_device and intel_iommu_set_dev_pasid enable page requests for a domain with
    /// a fault handler (iopf_for_domain_replace → intel_iommu_enable_iopf), which needs PRI enabled on
    /// the device: edu and the engine's functions have no PRI capability, so such a domain is ENODEV.
    /// </summary>
    public override int? FaultDomainRefusal() =>
        Fail(Errno.ENODEV, "intel_iommu_enable_iopf: the device has no PRI enabled, so a HWPT with a fault queue cannot attach to it");

    /// <summary>intel_iommu_capable: IOMMU_CAP_ENFORCE_CACHE_COHERENCY is snoop control (ecap SC).</summary>
    public override bool EnforcesCacheCoherency => ((EcapReg >> EcapSc) & 1) != 0;

    /// <summary>
    /// intel_iommu_domain_alloc_second_stage takes IOMMU_HWPT_ALLOC_PASID whatever the unit (the
    /// PASID check comes at attach), so a PASID-compatible domain is built.
    /// </summary>
    public override bool PasidDomains => true;

    /// <summary>
    /// intel_iommu_hw_info: <c>struct iommu_hw_info_vtd</c> with cap_reg and ecap_reg, and the
    /// ERRATA_772415_SPR17 flag, which the driver sets on every unit.
    /// </summary>
    public override unsafe int HwInfo(Span<byte> blob)
    {
        var vtd = new iommu_hw_info_vtd { flags = (uint)iommu_hw_info_vtd_flags.IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17, cap_reg = CapReg, ecap_reg = EcapReg };
        new ReadOnlySpan<byte>(&vtd, sizeof(iommu_hw_info_vtd)).CopyTo(blob);
        return sizeof(iommu_hw_info_vtd);
    }
}
