
namespace Abi.Engine.Iommufd;

/// <summary>The kinds of iommufd object.</summary>
internal enum ObjectKind
{
    Ioas,
    HwptPaging,
    HwptNested,
    Device,
    Access,
    Fault,
    Viommu,
    Vdevice,
    Veventq,
    HwQueue,

    /// <summary>A selftest mock device (IOMMU_TEST_CMD): destroying it unbinds and deletes its device.</summary>
    Selftest,

    /// <summary>An id a destroyed object left taken (see <see cref="ObjectTable.Tombstone"/>); never looked up.</summary>
    Tombstone,
}
