using Abi.Engine;
using Abi.Engine.Iommufd;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>
/// IOVA translation on the engine's device DMA path, against the same loop adding a constant offset
/// (what a translation costs at the very least). One live area maps 16 MiB; 10^6 live 4 KiB areas
/// map 4 GiB of IOVA (each one page of the same 16 MiB buffer). Random addresses, either 1024 within
/// an 8 MiB working set (<see cref="Spread.WorkingSet"/>: a NIC's rings and buffer pool, which stay in
/// the 4096-page IOTLB) or 65536 over the whole space (<see cref="Spread.Everywhere"/>: with 10^6
/// areas nearly every one misses the IOTLB and is looked up in the areas' tree).
/// </summary>
public class TranslationBenchmarks
{
    private const int Count = 65536;
    private const ulong Iova = 0x1000_0000;
    private readonly ulong[] _iovas = new ulong[Count];
    private EmulatedKernel _kernel = null!;
    private IommuFd _iommufd = null!;
    private DmaBuffer _memory = null!;
    private IoPagetable _space = null!;
    private nint _offset;

    /// <summary>Where the addresses fall.</summary>
    public enum Spread
    {
        WorkingSet,
        Everywhere,
    }

    [Params(1, 1_000_000)]
    public int LiveAreas { get; set; }

    [Params(Spread.WorkingSet, Spread.Everywhere)]
    public Spread Addresses { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _kernel = new EmulatedKernel();
        _iommufd = IommuFd.Open(_kernel);
        const int BufferPages = 4096;
        _memory = DmaBuffer.Allocate(_kernel, BufferPages * 4096, preferHugePages: false);
        Ioas ioas = _iommufd.AllocIoas();
        ulong span = BufferPages * 4096;
        if (LiveAreas == 1)
        {
            ioas.Map(_memory, Iova);
        }
        else
        {
            // Each 4 KiB area maps one of the buffer's pages, in turn.
            for (int i = 0; i < LiveAreas; i++)
            {
                ioas.Map(_memory.Address + ((i % BufferPages) * 4096), 4096, Iova + ((ulong)i * 4096));
            }

            span = (ulong)LiveAreas * 4096;
        }
        var file = (IommufdFile)_kernel.FileOf((int)_iommufd.Fd.DangerousGetHandle())!;
        _space = ((IoasObject)file.Objects.Get(ioas.Id)!).Iopt;
        _offset = _memory.Address - (nint)Iova;
        // The working set sits in the middle of the space, page aligned.
        ulong first = Addresses == Spread.WorkingSet ? ((span / 2) & ~0xFFFUL) : 0;
        long range = Addresses == Spread.WorkingSet ? 8 << 20 : (long)span;
        // Every run translates Count addresses: the working set's 1024 over and over.
        var random = new Random(1);
        for (int i = 0; i < Count; i++)
        {
            _iovas[i] = Addresses == Spread.WorkingSet && i >= 1024 ? _iovas[i % 1024] : Iova + first + (ulong)random.NextInt64(0, range);
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
        IoPagetable space = _space;             // as a device holds its table for a burst
        using IoPagetable.DmaScope scope = space.BeginDma();
        foreach (ulong iova in _iovas)
        {
            sum ^= space.Translate(iova, write: true);
        }

        return sum;
    }
}
