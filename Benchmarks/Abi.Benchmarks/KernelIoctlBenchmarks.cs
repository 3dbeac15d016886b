using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Native;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>
/// A generated wrapper through the kernel backend against a raw LibraryImport ioctl, on the same fd
/// (a pipe, which answers IOMMU_IOAS_MAP with ENOTTY after a real trip into the kernel).
/// </summary>
[MemoryDiagnoser]
public unsafe class KernelIoctlBenchmarks
{
    private int _read;
    private int _write;
    private IommufdIoctls _iommufd;
    private iommu_ioas_map _map;

    [GlobalSetup]
    public void Setup()
    {
        (_read, _write) = LinuxKernel.Pipe();
        _iommufd = new IommufdIoctls(LinuxKernel.Instance, _read);
        _map.size = (uint)sizeof(iommu_ioas_map);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ = LinuxKernel.Instance.Close(_read);
        _ = LinuxKernel.Instance.Close(_write);
    }

    [Benchmark(Baseline = true)]
    public int RawLibraryImportIoctl()
    {
        fixed (iommu_ioas_map* p = &_map)
        {
            return Libc.Ioctl(_read, Constants.IOMMU_IOAS_MAP, (nint)p);
        }
    }

    [Benchmark]
    public Errno GeneratedWrapperThroughKernelBackend() => _iommufd.TryIoasMap(ref _map);
}
