using Abi.Engine;
using Abi.Engine.Iommufd;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>
/// IOVA translation on the engine's device DMA path: 1024 translations of addresses spread over a
/// 1 MiB mapping (IOTLB hits after the first pass), against the same loop adding a constant offset
/// (what a translation costs at the very least).
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

    [GlobalSetup]
    public void Setup()
    {
        _kernel = new EmulatedKernel();
        _iommufd = IommuFd.Open(_kernel);
        _memory = DmaBuffer.Allocate(_kernel, 1 << 20, preferHugePages: false);
        Ioas ioas = _iommufd.AllocIoas();
        ioas.Map(_memory, Iova);
        var file = (IommufdFile)_kernel.FileOf((int)_iommufd.Fd.DangerousGetHandle())!;
        _space = ((IoasObject)file.Objects.Get(ioas.Id)!).Iopt;
        _offset = _memory.Address - (nint)Iova;
        var random = new Random(1);
        for (int i = 0; i < Count; i++)
        {
            _iovas[i] = Iova + (ulong)random.Next(0, 1 << 20);
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
