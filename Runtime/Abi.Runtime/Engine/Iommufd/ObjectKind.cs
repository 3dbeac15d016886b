namespace Abi.Runtime.Engine.Iommufd;

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
}
