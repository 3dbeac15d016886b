using Abi.Interop;
using Abi.Linux;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>A generated wrapper against the raw call it makes, through the same seam.</summary>
[MemoryDiagnoser]
public unsafe class WrapperBenchmarks
{
    private readonly IIoctlSeam _seam = new NullSeam();
    private IommufdIoctls _iommufd;
    private iommu_ioas_map _map;

    [GlobalSetup]
    public void Setup() => _iommufd = new IommufdIoctls(_seam, 3);

    [Benchmark(Baseline = true)]
    public Errno RawSeamCall()
    {
        fixed (iommu_ioas_map* p = &_map)
        {
            return IoctlResult.ToErrno(_seam.Ioctl(3, Constants.IOMMU_IOAS_MAP, (nint)p));
        }
    }

    [Benchmark]
    public Errno GeneratedWrapper() => _iommufd.TryIoasMap(ref _map);
}
