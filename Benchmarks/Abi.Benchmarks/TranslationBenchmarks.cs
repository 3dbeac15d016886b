using Abi.Engine;
using Abi.Engine.Iommufd;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>
/// IOVA translation on the engine's device DMA path, against the same loop adding a constant offset
/// (what a translation costs at the very least): with one live area, 1024 addresses spread over a
/// 1 MiB mapping (IOTLB hits after the first pass); with 10^6 live 4 KiB areas, 1024 addresses
/// spread over all of them (4 GiB of IOVA, so nearly every one misses the 512-entry IOTLB and is
/// looked up in the areas' tree).
/// </summary>
public class TranslationBenchmarks
{
    private const int Count = 1024;
    private const ulong Iova = 0x1000_0000;
    private readonly ulong[] _iovas = new ulong[Count];
    private EmulatedKernel _kernel = null!;
    private IommuFd _iommufd = null!;
    private DmaBuffer _memory = null!;
    private IoPagetable _space = null!;
    private nint _offset;

    [Params(1, 1_000_000)]
    public int LiveAreas { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _kernel = new EmulatedKernel();
        _iommufd = IommuFd.Open(_kernel);
        _memory = DmaBuffer.Allocate(_kernel, 1 << 20, preferHugePages: false);
        Ioas ioas = _iommufd.AllocIoas();
        ulong span = 1 << 20;
        if (LiveAreas == 1)
        {
            ioas.Map(_memory, Iova);
        }
        else
        {
            // Each 4 KiB area maps one of the buffer's 256 pages, in turn.
            for (int i = 0; i < LiveAreas; i++)
            {
                ioas.Map(_memory.Address + ((i % 256) * 4096), 4096, Iova + ((ulong)i * 4096));
            }

            span = (ulong)LiveAreas * 4096;
        }
        var file = (IommufdFile)_kernel.FileOf((int)_iommufd.Fd.DangerousGetHandle())!;
        _space = ((IoasObject)file.Objects.Get(ioas.Id)!).Iopt;
        _offset = _memory.Address - (nint)Iova;
        var random = new Random(1);
        for (int i = 0; i < Count; i++)
        {
            _iovas[i] = Iova + (ulong)random.NextInt64(0, (long)span);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _iommufd.Dispose();
        _memory.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public nint AddOffset()
    {
        nint sum = 0;
        foreach (ulong iova in _iovas)
        {
            sum ^= (nint)iova + _offset;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public nint Translate()
    {
        nint sum = 0;
        using IoPagetable.DmaScope scope = _space.BeginDma();
        foreach (ulong iova in _iovas)
        {
            sum ^= _space.Translate(iova, write: true);
        }

        return sum;
    }
}
