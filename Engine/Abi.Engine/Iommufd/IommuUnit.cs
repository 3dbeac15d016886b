using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// What a device's IOMMU driver tells iommufd: the page sizes and aperture of the domains it
/// builds, the regions each device reserves, dirty tracking and PASID support, and what
/// IOMMU_GET_HW_INFO reports. Emulated PCI functions sit behind <see cref="Vtd"/>; the selftest's
/// mock devices (IOMMU_TEST_CMD) behind <see cref="Mock"/>, with the kernel's mock values (spec §12).
/// </summary>
internal sealed record IommuUnit
{
    /// <summary>The engine's VT-d unit (<see cref="EngineIommu"/>).</summary>
    public static IommuUnit Vtd { get; } = new()
    {
        PageSizes = EngineIommu.PageSizes,
        ApertureStart = 0,
        ApertureLast = EngineIommu.ApertureLast,
        MsiWindow = true,
        DirtyTracking = true,
        HwInfoType = (uint)iommu_hw_info_type.IOMMU_HW_INFO_TYPE_INTEL_VTD,
    };

    /// <summary>The mock IOMMU's smallest page: 2 KiB, below PAGE_SIZE, so an IOAS's alignment can drop under it.</summary>
    public const ulong MockPageSize = 2048;

    /// <summary>The mock domain's aperture.</summary>
    public const ulong MockApertureStart = 1UL << 24, MockApertureLast = (1UL << 31) - 1;

    /// <summary>The selftest's own GET_HW_INFO type, and the register value it reports.</summary>
    public const uint SelftestHwInfoType = 0xfeedbeef, SelftestRegister = 0xdeadbeef;

    /// <summary>Mock device flags (MOCK_FLAGS_DEVICE_*).</summary>
    public const uint MockNoDirty = 1, MockPasid = 4;

    /// <summary>The mock IOMMU in front of a mock device created with <paramref name="deviceFlags"/>.</summary>
    public static IommuUnit Mock(uint deviceFlags) => new()
    {
        // Every power of two from 2 KiB up: the mock page table maps any size.
        PageSizes = ~(MockPageSize - 1),
        ApertureStart = MockApertureStart,
        ApertureLast = MockApertureLast,
        MsiWindow = false,
        DirtyTracking = (deviceFlags & MockNoDirty) == 0,
        Pasid = (deviceFlags & MockPasid) != 0,
        HwInfoType = SelftestHwInfoType,
        IsMock = true,
        DirtyGranuleShift = 11,
    };

    /// <summary>The mock's huge leaf: a level-1 entry of its 2 KiB-granule table, 512 granules.</summary>
    public const ulong MockHugePageSize = 512 * MockPageSize;

    /// <summary>
    /// The same mock IOMMU, but the domain built with the selftest's huge page table
    /// (<c>MOCK_IOMMUPT_HUGE</c>): it maps 1 MiB leaves where it can and PAGE_SIZE elsewhere, and
    /// keeps the real table's aperture (three levels from a 2 KiB granule: 38 bits) instead of the
    /// mock aperture.
    /// </summary>
    public IommuUnit WithHugePageTable() => this with
    {
        PageSizes = MockHugePageSize | LinuxConstants.PageSize,
        ApertureStart = 0,
        ApertureLast = (1UL << 38) - 1,
        HugeLeaf = MockHugePageSize,
    };

    public ulong PageSizes { get; private init; }

    /// <summary>The smallest page the domain maps: an IOAS with this domain aligns IOVAs to it.</summary>
    public ulong MinPageSize => PageSizes & (~PageSizes + 1);

    public ulong ApertureStart { get; private init; }

    public ulong ApertureLast { get; private init; }

    /// <summary>Whether each device reserves the x86 MSI window [0xfee00000, 0xfeefffff].</summary>
    public bool MsiWindow { get; private init; }

    public bool DirtyTracking { get; private init; }

    public bool Pasid { get; private init; }

    public uint HwInfoType { get; private init; }

    public bool IsMock { get; private init; }

    /// <summary>
    /// log2 of what one dirty bit covers: the smallest IOPTE (4 KiB on VT-d, 2 KiB on the mock,
    /// whose 4 KiB entries are two contiguous 2 KiB items that report dirty one item at a time).
    /// </summary>
    public int DirtyGranuleShift { get; private init; } = 12;

    /// <summary>A large leaf the domain maps where the IOVA block and its source are aligned (0: none modelled); it is dirty as a whole.</summary>
    public ulong HugeLeaf { get; private init; }
}
