using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;

namespace Abi.Conformance.Scenarios;

/// <summary>The legacy container and group on the edu device, type1v2: version, extensions, group status, SET_IOMMU rules, GET_INFO, MAP/UNMAP rows.</summary>
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
