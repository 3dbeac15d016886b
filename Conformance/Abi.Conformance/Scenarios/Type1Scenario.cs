using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;

namespace Abi.Conformance.Scenarios;

/// <summary>The legacy container and group on the edu device, type1v2: version, extensions, group status, SET_IOMMU rules, GET_INFO, MAP/UNMAP rows, dirty bitmaps.</summary>
internal static unsafe class Type1Scenario
{
    public static void Run(Devices devices, Recorder r)
    {
        r.Scenario("type1v2-edu");
        var kernel = devices.Kernel;
        int container = Scenario.Open(kernel, "/dev/vfio/vfio");
        int group = Scenario.Open(kernel, devices.EduGroup);
        if (r.Step("open the container and the group", Scenario.ErrnoOf(Math.Min(container, group))) != Errno.None)
        {
            return;
        }

        var c = new VfioContainerIoctls(kernel, container);
        var g = new VfioGroupIoctls(kernel, group);
        r.Step("GET_API_VERSION", c.TryGetApiVersion(out int version), ("version", version));
        foreach ((string label, uint extension) in (ReadOnlySpan<(string, uint)>)[("TYPE1", Constants.VFIO_TYPE1_IOMMU), ("TYPE1v2", Constants.VFIO_TYPE1v2_IOMMU), ("NOIOMMU", Constants.VFIO_NOIOMMU_IOMMU), ("UPDATE_VADDR", Constants.VFIO_UPDATE_VADDR), ("UNMAP_ALL", Constants.VFIO_UNMAP_ALL)])
        {
            r.Step($"CHECK_EXTENSION {label}", c.TryCheckExtension((nint)extension, out int supported), ("result", supported));
        }

        var status = new vfio_group_status { argsz = 8 };
        r.Step("GROUP_GET_STATUS", g.TryGetStatus(ref status), ("flags", status.flags));
        r.Step("SET_IOMMU without a group", c.TrySetIommu((nint)Constants.VFIO_TYPE1v2_IOMMU, out _));
        int containerFd = container;
        r.Step("GROUP_SET_CONTAINER", g.TrySetContainer(ref containerFd, out _));
        status = new vfio_group_status { argsz = 8 };
        r.Step("GROUP_GET_STATUS with a container", g.TryGetStatus(ref status), ("flags", status.flags));
        byte[] name = System.Text.Encoding.ASCII.GetBytes(devices.EduPciName + "\0");
        r.Step("GET_DEVICE_FD before SET_IOMMU", g.TryGetDeviceFd(name, out _));
        r.Step("SET_IOMMU unsupported type 7", c.TrySetIommu(7, out _));
        r.Step("SET_IOMMU TYPE1v2", c.TrySetIommu((nint)Constants.VFIO_TYPE1v2_IOMMU, out _));
        r.Step("SET_IOMMU twice", c.TrySetIommu((nint)Constants.VFIO_TYPE1v2_IOMMU, out _));

        var info = new vfio_iommu_type1_info { argsz = 24 };
        r.Step("IOMMU_GET_INFO (no room for capabilities)", c.TryIommuGetInfo(ref info), ("flags", info.flags), ("iova_pgsizes", info.iova_pgsizes), ("argsz", info.argsz));

        using var memory = DmaBuffer.Allocate(kernel, 64 << 10, preferHugePages: false);
        Map(r, c, "MAP_DMA 64 KiB", 3, (ulong)memory.Address, 0x100000, 64 << 10);
        Map(r, c, "MAP_DMA overlapping", 3, (ulong)memory.Address, 0x100000, 4096);
        Map(r, c, "MAP_DMA without READ or WRITE", 0, (ulong)memory.Address, 0x200000, 4096);
        Map(r, c, "MAP_DMA unaligned", 3, (ulong)memory.Address, 0x200800, 4096);
        Map(r, c, "MAP_DMA into the MSI window", 3, (ulong)memory.Address, 0xFEE00000, 4096);
        Unmap(r, c, "UNMAP_DMA the middle of a mapping (v2)", 0x104000, 4096, 0);
        Unmap(r, c, "UNMAP_DMA an empty range", 0x300000, 4096, 0);
        Unmap(r, c, "UNMAP_DMA the mapping", 0x100000, 64 << 10, 0);
        Unmap(r, c, "UNMAP_DMA all", 0, 0, Constants.VFIO_DMA_UNMAP_FLAG_ALL);
        DirtyBitmaps(r, kernel, container, c, (ulong)memory.Address);
        Vaddr(r, c, (ulong)memory.Address);

        int device = 0;
        r.Step("GET_DEVICE_FD", g.TryGetDeviceFd(name, out device));
        r.Step("GET_DEVICE_FD of an unknown name", g.TryGetDeviceFd("0000:ff:1f.7\0"u8, out _));
        if (device > 0)
        {
            kernel.Close(device);
        }

        r.Step("GROUP_UNSET_CONTAINER", g.TryUnsetContainer(out _));
        r.Step("close", Scenario.ErrnoOf(Math.Min(kernel.Close(group), kernel.Close(container))));
    }

    /// <summary>
    /// Dirty tracking's reports word by word (vfio_iommu_type1.c: update_user_bitmap): two mappings of 4
    /// and 3 pages with a one-page hole between them, reported twice by GET_BITMAP and once by UNMAP into
    /// a bitmap that starts as a pattern (which words are written, what the bits past a mapping hold, what
    /// a mapping that starts inside a word keeps of it); then UNMAP with a bitmap that cannot be written
    /// (the page at 0x1000 is never mapped), over no mapping and over one.
    /// </summary>
    private static void DirtyBitmaps(Recorder r, IKernel kernel, int container, VfioContainerIoctls c, ulong vaddr)
    {
        const ulong Base = 0x100000, Pattern = 0xAAAA_AAAA_AAAA_AAAA, Unwritable = 0x1000;
        ulong* bits = (ulong*)NativeMemory.AllocZeroed(2 * sizeof(ulong));
        byte* arg = (byte*)NativeMemory.AllocZeroed(48);
        try
        {
            *(vfio_iommu_type1_dirty_bitmap*)arg = new vfio_iommu_type1_dirty_bitmap { argsz = 8, flags = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START };
            r.Step("DIRTY_PAGES START", Scenario.ErrnoOf(kernel.Ioctl(container, Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)arg)));
            Map(r, c, "MAP_DMA 4 pages under tracking", 3, vaddr, Base, 0x4000);
            Map(r, c, "MAP_DMA 3 pages after a one-page hole", 3, vaddr, Base + 0x5000, 0x3000);
            for (int round = 1; round <= 2; round++)
            {
                bits[0] = bits[1] = Pattern;
                *(vfio_iommu_type1_dirty_bitmap*)arg = new vfio_iommu_type1_dirty_bitmap { argsz = 48, flags = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP };
                *(vfio_iommu_type1_dirty_bitmap_get*)(arg + 8) = new vfio_iommu_type1_dirty_bitmap_get { iova = Base, size = 0x8000, bitmap = new vfio_bitmap { pgsize = 4096, size = 16, data = bits } };
                r.Step($"DIRTY_PAGES GET_BITMAP of both, round {round}", Scenario.ErrnoOf(kernel.Ioctl(container, Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)arg)), ("word0", bits[0]), ("word1", bits[1]));
            }

            bits[0] = bits[1] = Pattern;
            r.Step("UNMAP_DMA both with the bitmap", UnmapWithBitmap(kernel, container, arg, Base, 0x8000, bits, out ulong size), ("size", size), ("word0", bits[0]), ("word1", bits[1]));
            r.Step("UNMAP_DMA with an unwritable bitmap, nothing mapped", UnmapWithBitmap(kernel, container, arg, 0x300000, 0x4000, (ulong*)Unwritable, out size), ("size", size));
            Map(r, c, "MAP_DMA 4 pages again", 3, vaddr, Base, 0x4000);
            r.Step("UNMAP_DMA it with an unwritable bitmap", UnmapWithBitmap(kernel, container, arg, Base, 0x4000, (ulong*)Unwritable, out size), ("size", size));
            Unmap(r, c, "UNMAP_DMA what the failed report left", Base, 0x4000, 0);
            *(vfio_iommu_type1_dirty_bitmap*)arg = new vfio_iommu_type1_dirty_bitmap { argsz = 8, flags = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP };
            r.Step("DIRTY_PAGES STOP", Scenario.ErrnoOf(kernel.Ioctl(container, Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)arg)));
        }
        finally
        {
            NativeMemory.Free(arg);
            NativeMemory.Free(bits);
        }
    }

    /// <summary>
    /// VFIO_UPDATE_VADDR: UNMAP_DMA with VADDR makes the v2 range checks first (a range that bisects a
    /// mapping is EINVAL), invalidates whole mappings once (again is EINVAL), and MAP_DMA with VADDR gives
    /// the vaddr back.
    /// </summary>
    private static void Vaddr(Recorder r, VfioContainerIoctls c, ulong vaddr)
    {
        const ulong Base = 0x100000;
        Map(r, c, "MAP_DMA 4 pages for VADDR", 3, vaddr, Base, 0x4000);
        Unmap(r, c, "UNMAP_DMA VADDR bisecting the mapping", Base + 0x1000, 0x1000, Constants.VFIO_DMA_UNMAP_FLAG_VADDR);
        Unmap(r, c, "UNMAP_DMA VADDR of the mapping", Base, 0x4000, Constants.VFIO_DMA_UNMAP_FLAG_VADDR);
        Unmap(r, c, "UNMAP_DMA VADDR of it again", Base, 0x4000, Constants.VFIO_DMA_UNMAP_FLAG_VADDR);
        Map(r, c, "MAP_DMA VADDR gives the vaddr back", (uint)Constants.VFIO_DMA_MAP_FLAG_VADDR, vaddr, Base, 0x4000);
        Unmap(r, c, "UNMAP_DMA the mapping after VADDR", Base, 0x4000, 0);
    }

    /// <summary>UNMAP_DMA with GET_DIRTY_BITMAP: the struct and its vfio_bitmap after it, in 4 KiB pages.</summary>
    private static Errno UnmapWithBitmap(IKernel kernel, int container, byte* arg, ulong iova, ulong size, ulong* data, out ulong unmapped)
    {
        var unmap = (vfio_iommu_type1_dma_unmap*)arg;
        *unmap = new vfio_iommu_type1_dma_unmap { argsz = 48, flags = (uint)Constants.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, iova = iova, size = size };
        *(vfio_bitmap*)(arg + 24) = new vfio_bitmap { pgsize = 4096, size = 16, data = data };
        Errno errno = Scenario.ErrnoOf(kernel.Ioctl(container, Constants.VFIO_IOMMU_UNMAP_DMA, (nint)arg));
        unmapped = unmap->size;
        return errno;
    }

    private static void Map(Recorder r, VfioContainerIoctls c, string step, uint flags, ulong vaddr, ulong iova, ulong size)
    {
        var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = flags, vaddr = vaddr, iova = iova, size = size };
        r.Step(step, c.TryIommuMapDma(ref map));
    }

    private static void Unmap(Recorder r, VfioContainerIoctls c, string step, ulong iova, ulong size, uint flags)
    {
        var unmap = new vfio_iommu_type1_dma_unmap { argsz = 24, flags = flags, iova = iova, size = size };
        r.Step(step, c.TryIommuUnmapDma(ref unmap), ("size", unmap.size));
    }
}
