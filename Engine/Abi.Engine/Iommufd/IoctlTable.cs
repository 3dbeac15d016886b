using System.Runtime.CompilerServices;
using Abi.Linux;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The iommufd ioctls the engine serves: number, exact request code, the kernel's struct size and
/// the minimum size (the generated <see cref="IoctlMinSizes"/>: offsetofend of the member
/// drivers/iommu/iommufd/main.c names last in iommufd_ioctl_ops). The dispatcher
/// checks size and tail before any handler runs, as the kernel's table does.
/// </summary>
internal static unsafe class IoctlTable
{
    public const uint Type = Constants.IOMMUFD_TYPE;

    /// <summary>The largest struct an entry may name: the dispatcher copies arguments into a buffer of this size on its stack.</summary>
    public const int MaxSize = 256;
    private const uint First = Constants.IOMMUFD_CMD_BASE;

    private static readonly Entry[] s_entries =
    [
        new("IOMMU_DESTROY", Constants.IOMMU_DESTROY, (uint)sizeof(iommu_destroy), IoctlMinSizes.IOMMU_DESTROY, &IommufdFile.Destroy),
        new("IOMMU_IOAS_ALLOC", Constants.IOMMU_IOAS_ALLOC, (uint)sizeof(iommu_ioas_alloc), IoctlMinSizes.IOMMU_IOAS_ALLOC, &IommufdFile.IoasAlloc, responds: true),
        new("IOMMU_IOAS_ALLOW_IOVAS", Constants.IOMMU_IOAS_ALLOW_IOVAS, (uint)sizeof(iommu_ioas_allow_iovas), IoctlMinSizes.IOMMU_IOAS_ALLOW_IOVAS, &IommufdFile.IoasAllowIovas),
        new("IOMMU_IOAS_COPY", Constants.IOMMU_IOAS_COPY, (uint)sizeof(iommu_ioas_copy), IoctlMinSizes.IOMMU_IOAS_COPY, &IommufdFile.IoasCopy, responds: true),
        new("IOMMU_IOAS_IOVA_RANGES", Constants.IOMMU_IOAS_IOVA_RANGES, (uint)sizeof(iommu_ioas_iova_ranges), IoctlMinSizes.IOMMU_IOAS_IOVA_RANGES, &IommufdFile.IoasIovaRanges, responds: true),
        new("IOMMU_IOAS_MAP", Constants.IOMMU_IOAS_MAP, (uint)sizeof(iommu_ioas_map), IoctlMinSizes.IOMMU_IOAS_MAP, &IommufdFile.IoasMap, responds: true, unlocked: true),
        new("IOMMU_IOAS_UNMAP", Constants.IOMMU_IOAS_UNMAP, (uint)sizeof(iommu_ioas_unmap), IoctlMinSizes.IOMMU_IOAS_UNMAP, &IommufdFile.IoasUnmap, responds: true, unlocked: true),
        new("IOMMU_OPTION", Constants.IOMMU_OPTION, (uint)sizeof(iommu_option), IoctlMinSizes.IOMMU_OPTION, &IommufdFile.Option),
        new("IOMMU_VFIO_IOAS", Constants.IOMMU_VFIO_IOAS, (uint)sizeof(iommu_vfio_ioas), IoctlMinSizes.IOMMU_VFIO_IOAS, &IommufdFile.VfioIoas),
        new("IOMMU_HWPT_ALLOC", Constants.IOMMU_HWPT_ALLOC, (uint)sizeof(iommu_hwpt_alloc), IoctlMinSizes.IOMMU_HWPT_ALLOC, &IommufdFile.HwptAlloc, responds: true),
        new("IOMMU_GET_HW_INFO", Constants.IOMMU_GET_HW_INFO, (uint)sizeof(iommu_hw_info), IoctlMinSizes.IOMMU_GET_HW_INFO, &IommufdFile.GetHwInfo, responds: true),
        new("IOMMU_HWPT_SET_DIRTY_TRACKING", Constants.IOMMU_HWPT_SET_DIRTY_TRACKING, (uint)sizeof(iommu_hwpt_set_dirty_tracking), IoctlMinSizes.IOMMU_HWPT_SET_DIRTY_TRACKING, &IommufdFile.HwptSetDirtyTracking),
        new("IOMMU_HWPT_GET_DIRTY_BITMAP", Constants.IOMMU_HWPT_GET_DIRTY_BITMAP, (uint)sizeof(iommu_hwpt_get_dirty_bitmap), IoctlMinSizes.IOMMU_HWPT_GET_DIRTY_BITMAP, &IommufdFile.HwptGetDirtyBitmap),
        new("IOMMU_HWPT_INVALIDATE", Constants.IOMMU_HWPT_INVALIDATE, (uint)sizeof(iommu_hwpt_invalidate), IoctlMinSizes.IOMMU_HWPT_INVALIDATE, &IommufdFile.HwptInvalidate, responds: true),
        new("IOMMU_FAULT_QUEUE_ALLOC", Constants.IOMMU_FAULT_QUEUE_ALLOC, (uint)sizeof(iommu_fault_alloc), IoctlMinSizes.IOMMU_FAULT_QUEUE_ALLOC, &IommufdFile.FaultQueueAlloc, responds: true),
        new("IOMMU_IOAS_MAP_FILE", Constants.IOMMU_IOAS_MAP_FILE, (uint)sizeof(iommu_ioas_map_file), IoctlMinSizes.IOMMU_IOAS_MAP_FILE, &IommufdFile.IoasMapFile, responds: true),
        new("IOMMU_VIOMMU_ALLOC", Constants.IOMMU_VIOMMU_ALLOC, (uint)sizeof(iommu_viommu_alloc), IoctlMinSizes.IOMMU_VIOMMU_ALLOC, &IommufdFile.ViommuAlloc, responds: true),
        new("IOMMU_VDEVICE_ALLOC", Constants.IOMMU_VDEVICE_ALLOC, (uint)sizeof(iommu_vdevice_alloc), IoctlMinSizes.IOMMU_VDEVICE_ALLOC, &IommufdFile.VdeviceAlloc, responds: true),
        new("IOMMU_IOAS_CHANGE_PROCESS", Constants.IOMMU_IOAS_CHANGE_PROCESS, (uint)sizeof(iommu_ioas_change_process), IoctlMinSizes.IOMMU_IOAS_CHANGE_PROCESS, &IommufdFile.IoasChangeProcess),
        new("IOMMU_VEVENTQ_ALLOC", Constants.IOMMU_VEVENTQ_ALLOC, (uint)sizeof(iommu_veventq_alloc), IoctlMinSizes.IOMMU_VEVENTQ_ALLOC, &IommufdFile.VeventqAlloc, responds: true),
        new("IOMMU_HW_QUEUE_ALLOC", Constants.IOMMU_HW_QUEUE_ALLOC, (uint)sizeof(iommu_hw_queue_alloc), IoctlMinSizes.IOMMU_HW_QUEUE_ALLOC, &IommufdFile.HwQueueAlloc, responds: true),
    ];

    /// <summary>
    /// Whether <paramref name="nr"/> falls in the kernel's iommufd_ioctl_ops array, whose length runs
    /// to IOMMU_TEST_CMD (<paramref name="testNr"/>, from the selftest assembly's entry, see
    /// <see cref="EmulatedKernel.TestCommand"/>; 0 without it) when CONFIG_IOMMUFD_TEST is built in:
    /// numbers in it take the iommufd path (get_user of the size, then ENOTTY for an empty slot),
    /// numbers past it the VFIO compat path.
    /// </summary>
    public static bool InRange(uint nr, uint testNr) => nr - First < (testNr != 0 ? testNr - First + 1 : (uint)s_entries.Length);

    /// <summary>The entry for <paramref name="nr"/>, or a null reference outside the table.</summary>
    public static ref readonly Entry Find(uint nr)
    {
        uint index = nr - First;
        return ref index < (uint)s_entries.Length ? ref s_entries[index] : ref Unsafe.NullRef<Entry>();
    }

    public readonly struct Entry(string name, uint request, uint size, uint minSize, delegate*<IommufdFile, byte*, ref IommufdFile.IoctlCall, int> handler, bool responds = false, bool unlocked = false)
    {
        /// <summary>The handler takes its IOAS's IOVA lock itself instead of the context's (see <see cref="IommufdFile.EnterExclusive()"/>).</summary>
        public bool Unlocked { get; } = unlocked;

        /// <summary>The handler ends with iommufd_ucmd_respond (the struct goes back to the caller); others write nothing or write fields themselves.</summary>
        public bool Responds { get; } = responds;

        public string Name { get; } = name;

        public uint Request { get; } = request;

        public uint Size { get; } = size <= MaxSize ? size : throw new ArgumentOutOfRangeException(nameof(size), size, $"{name}: an ioctl struct larger than {MaxSize} bytes does not fit the dispatcher's copy");

        public uint MinSize { get; } = minSize;

        public delegate*<IommufdFile, byte*, ref IommufdFile.IoctlCall, int> Handler { get; } = handler;
    }
}
