using Abi.Engine;
using Abi.Interop;
using Abi.Linux;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>
/// A 4 KiB map+unmap pair between existing areas as the number of live areas grows (1, 10^3, 10^6):
/// the kernel keeps areas in an interval tree, so its cost grows with log n. The baseline is the
/// same pair into an empty IOAS, measured in the same run.
/// </summary>
[MemoryDiagnoser]
public class ScalingBenchmarks
{
    private const ulong Page = 4096;

    private EmulatedKernel _kernel = null!;
    private int _fd;
    private IommufdIoctls _iommufd;
    private uint _empty, _full;
    private ulong _hole;

    [Params(1, 1_000, 1_000_000)]
    public int LiveAreas { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _kernel = new EmulatedKernel();
        _fd = _kernel.Open("/dev/iommu\0"u8, 2, 0);
        _iommufd = new IommufdIoctls(_kernel, _fd);
        _empty = NewIoas();
        _full = NewIoas();

        // Areas on every other page; the pair goes into the hole in the middle.
        long before = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < LiveAreas; i++)
        {
            var map = new iommu_ioas_map { flags = 7, ioas_id = _full, user_va = 0x10000, length = Page, iova = 0x100000 + ((ulong)i * 2 * Page) };
            _iommufd.IoasMap(ref map);
        }

        // What a live area costs in managed memory: its slot in the tree, its pages object and pin counters.
        long after = GC.GetTotalMemory(forceFullCollection: true);
        Console.WriteLine($"// {LiveAreas} live areas: {(after - before) / LiveAreas} bytes of managed memory each");

        _hole = 0x100000 + ((ulong)(LiveAreas / 2) * 2 * Page) - Page;
    }

    [GlobalCleanup]
    public void Cleanup() => _kernel.Close(_fd);

    [Benchmark(Baseline = true)]
    public Errno PairIntoAnEmptyIoas() => Pair(_empty, 0x100000);

    [Benchmark]
    public Errno PairBetweenLiveAreas() => Pair(_full, _hole);

    private Errno Pair(uint ioas, ulong iova)
    {
        var map = new iommu_ioas_map { flags = 7, ioas_id = ioas, user_va = 0x10000, length = Page, iova = iova };
        Errno e = _iommufd.TryIoasMap(ref map);
        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = iova, length = Page };
        return e | _iommufd.TryIoasUnmap(ref unmap);
    }

    private uint NewIoas()
    {
        var alloc = new iommu_ioas_alloc();
        _iommufd.IoasAlloc(ref alloc);
        return alloc.out_ioas_id;
    }
}
