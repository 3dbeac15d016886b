using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;

namespace Abi.Conformance.Scenarios;

/// <summary>iommufd without devices: IOAS allocation, mapping (fixed and automatic), unmapping, ranges, options, and their errnos.</summary>
internal static unsafe class IoasScenario
{
    public static void Run(IKernel kernel, Recorder r)
    {
        r.Scenario("ioas");
        int fd = Scenario.Open(kernel, "/dev/iommu");
        if (r.Step("open /dev/iommu", Scenario.ErrnoOf(fd)) != Errno.None)
        {
            return;
        }

        var io = new IommufdIoctls(kernel, fd);
        using var memory = DmaBuffer.Allocate(kernel, 4 << 20, preferHugePages: false);
        ulong va = Scenario.Aligned(memory);
        var alloc = new iommu_ioas_alloc { size = 12 };
        r.Step("IOAS_ALLOC", io.TryIoasAlloc(ref alloc), ("ioas_id", alloc.out_ioas_id));
        uint ioas = alloc.out_ioas_id;

        Ranges(r, io, ioas, "IOVA_RANGES with no device");
        const uint Rw = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE);
        const uint Fixed = (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA;
        Map(r, io, "MAP fixed 1 MiB at 0x100000", Rw | Fixed, ioas, va, 1 << 20, 0x100000);
        Map(r, io, "MAP automatic 64 KiB", Rw, ioas, va + (1 << 20), 64 << 10, 0);
        Map(r, io, "MAP automatic 3 bytes at a sub-page offset", Rw, ioas, va + (1 << 20) + 0x123, 3, 0);
        Map(r, io, "MAP overlapping", Rw | Fixed, ioas, va, 4096, 0x100000);
        Map(r, io, "MAP unknown flag", Rw | Fixed | 0x400, ioas, va, 4096, 0x900000);
        Map(r, io, "MAP length 0", Rw | Fixed, ioas, va, 0, 0x900000);
        Map(r, io, "MAP wrapping past 2^64", Rw | Fixed, ioas, va, 0x2000, ulong.MaxValue - 0xFFF);
        Map(r, io, "MAP into an id that is not an IOAS", Rw | Fixed, 999, va, 4096, 0x900000);
        Map(r, io, "MAP without READ or WRITE", Fixed, ioas, va, 4096, 0x900000);

        var second = new iommu_ioas_alloc { size = 12 };
        r.Step("IOAS_ALLOC a second IOAS", io.TryIoasAlloc(ref second), ("ioas_id", second.out_ioas_id));
        Copy(r, io, "COPY 64 KiB into the second IOAS", Rw | Fixed, second.out_ioas_id, ioas, 0x100000, 0x500000, 64 << 10);
        Copy(r, io, "COPY automatic", Rw, second.out_ioas_id, ioas, 0x110000, 0, 64 << 10);
        Copy(r, io, "COPY from an unmapped range", Rw | Fixed, second.out_ioas_id, ioas, 0x800000, 0x600000, 4096);
        Copy(r, io, "COPY onto an existing mapping", Rw | Fixed, second.out_ioas_id, ioas, 0x100000, 0x500000, 4096);
        var destroySecond = new iommu_destroy { size = 8, id = second.out_ioas_id };
        r.Step("DESTROY the second IOAS", io.TryDestroy(ref destroySecond));

        Unmap(r, io, "UNMAP half of a mapping", ioas, 0x100000, 0x1000);
        Unmap(r, io, "UNMAP the whole mapping", ioas, 0x100000, 1 << 20);
        Unmap(r, io, "UNMAP an empty range", ioas, 0x100000, 1 << 20);
        Unmap(r, io, "UNMAP everything", ioas, 0, ulong.MaxValue);
        Unmap(r, io, "UNMAP everything when empty", ioas, 0, ulong.MaxValue);

        Option(r, io, "OPTION get HUGE_PAGES", iommufd_option.IOMMU_OPTION_HUGE_PAGES, iommufd_option_ops.IOMMU_OPTION_OP_GET, ioas, 0);
        Option(r, io, "OPTION get RLIMIT_MODE", iommufd_option.IOMMU_OPTION_RLIMIT_MODE, iommufd_option_ops.IOMMU_OPTION_OP_GET, 0, 0);
        Option(r, io, "OPTION get HUGE_PAGES of id 0", iommufd_option.IOMMU_OPTION_HUGE_PAGES, iommufd_option_ops.IOMMU_OPTION_OP_GET, 0, 0);
        Option(r, io, "OPTION set HUGE_PAGES to 2", iommufd_option.IOMMU_OPTION_HUGE_PAGES, iommufd_option_ops.IOMMU_OPTION_OP_SET, ioas, 2);

        var bad = new iommu_ioas_alloc { size = 12, flags = 1 };
        r.Step("IOAS_ALLOC with flags", io.TryIoasAlloc(ref bad));
        var destroyUnknown = new iommu_destroy { size = 8, id = 999 };
        r.Step("DESTROY an unknown id", io.TryDestroy(ref destroyUnknown));
        var destroy = new iommu_destroy { size = 8, id = ioas };
        r.Step("DESTROY the IOAS", io.TryDestroy(ref destroy));
        r.Step("close", Scenario.ErrnoOf(kernel.Close(fd)));
    }

    internal static void Ranges(Recorder r, IommufdIoctls io, uint ioas, string step)
    {
        iommu_iova_range* ranges = stackalloc iommu_iova_range[8];
        var cmd = new iommu_ioas_iova_ranges { size = 32, ioas_id = ioas, num_iovas = 8, allowed_iovas = (ulong)ranges };
        Errno e = io.TryIoasIovaRanges(ref cmd);
        var outputs = new List<(string, object)> { ("num_iovas", cmd.num_iovas), ("out_iova_alignment", cmd.out_iova_alignment) };
        for (int i = 0; e == Errno.None && i < cmd.num_iovas && i < 8; i++)
        {
            outputs.Add(($"range{i}", $"0x{ranges[i].start:X}-0x{ranges[i].last:X}"));
        }

        r.Step(step, e, [.. outputs]);
    }

    internal static void Map(Recorder r, IommufdIoctls io, string step, uint flags, uint ioas, ulong va, ulong length, ulong iova)
    {
        var cmd = new iommu_ioas_map { size = 40, flags = flags, ioas_id = ioas, user_va = va, length = length, iova = iova };
        r.Step(step, io.TryIoasMap(ref cmd), ("iova", cmd.iova));
    }

    private static void Copy(Recorder r, IommufdIoctls io, string step, uint flags, uint dst, uint src, ulong srcIova, ulong dstIova, ulong length)
    {
        var cmd = new iommu_ioas_copy { size = 40, flags = flags, dst_ioas_id = dst, src_ioas_id = src, length = length, dst_iova = dstIova, src_iova = srcIova };
        r.Step(step, io.TryIoasCopy(ref cmd), ("dst_iova", cmd.dst_iova));
    }

    internal static void Unmap(Recorder r, IommufdIoctls io, string step, uint ioas, ulong iova, ulong length)
    {
        var cmd = new iommu_ioas_unmap { size = 24, ioas_id = ioas, iova = iova, length = length };
        r.Step(step, io.TryIoasUnmap(ref cmd), ("length", cmd.length));
    }

    private static void Option(Recorder r, IommufdIoctls io, string step, iommufd_option option, iommufd_option_ops op, uint objectId, ulong value)
    {
        var cmd = new iommu_option { size = 24, option_id = (uint)option, op = (ushort)op, object_id = objectId, val64 = value };
        r.Step(step, io.TryOption(ref cmd), ("val64", cmd.val64));
    }
}
