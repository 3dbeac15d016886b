using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The IOMMU the engine emulates, described as the kernel's Intel VT-d driver would describe a
/// unit: 48-bit (4-level) second-stage tables with 4 KiB, 2 MiB and 1 GiB pages, the MSI window at
/// 0xfee00000-0xfeefffff reserved for every device, coherent, with interrupt remapping, and with
/// second-stage access/dirty bits (so paging HWPTs can track dirty pages). No nesting, no PASID.
/// </summary>
internal static class EngineIommu
{
    /// <summary>The last IOVA the 4-level tables can translate.</summary>
    public const ulong ApertureLast = (1UL << 48) - 1;

    /// <summary>The interrupt (MSI) window every device reserves.</summary>
    public const ulong MsiStart = 0xFEE0_0000, MsiLast = 0xFEEF_FFFF;

    /// <summary>Page sizes of the domain: 4 KiB | 2 MiB | 1 GiB.</summary>
    public const ulong PageSizes = LinuxConstants.PageSize | (2UL << 20) | (1UL << 30);

    /// <summary>
    /// Capability register: ND=6 (65536 domains), SAGAW bit 2 (4-level), MGAW 47 (48 bits),
    /// super pages 2 MiB and 1 GiB (SLLPS 0b11), page-selective invalidation.
    /// </summary>
    public const ulong CapReg = 6UL | (0x4UL << 8) | (47UL << 16) | (0x3UL << 34) | (1UL << 39);

    /// <summary>
    /// Extended capability register: coherent (C), interrupt remapping (IR), pass-through (PT),
    /// snoop control (SC), scalable mode (SMTS), second-stage A/D bits (SLADS), second-stage
    /// translation (SSTS).
    /// </summary>
    public const ulong EcapReg = 1UL | (1UL << 3) | (1UL << 6) | (1UL << 7) | (1UL << 43) | (1UL << 45) | (1UL << 46);

    /// <summary>What IOMMU_GET_HW_INFO reports in out_capabilities for an engine device.</summary>
    public const ulong Capabilities = (ulong)(iommufd_hw_capabilities.IOMMU_HW_CAP_DIRTY_TRACKING | iommufd_hw_capabilities.IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED);
}
