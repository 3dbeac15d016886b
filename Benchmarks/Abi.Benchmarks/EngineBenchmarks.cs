using Abi.Engine;
using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using BenchmarkDotNet.Attributes;

namespace Abi.Benchmarks;

/// <summary>
/// The engine's ioctl path: a trivial ioctl against a direct method call (the cost of the
/// syscall-shaped dispatch and its checks), and a 4 KiB map+unmap pair (the kernel's published
/// figure is 2.66 µs per pair) with its arguments on the stack and in the heap, and the same pair's
/// two handlers called directly: what the dispatch adds (seam, thread, fd, table, copies in and out)
/// is the difference.
/// </summary>
[MemoryDiagnoser]
public unsafe class EngineBenchmarks
{
    private EmulatedKernel _kernel = null!;
    private int _fd;
    private IommufdIoctls _iommufd;
    private uint _ioas;
    private iommu_option _option;
    private iommu_ioas_map _map;
    private iommu_ioas_unmap _unmap;
    private ulong _mode = 1;
    private IommufdFile _file = null!;
    private int _thread;

    [GlobalSetup]
    public void Setup()
    {
        _kernel = new EmulatedKernel();
        _fd = _kernel.Open("/dev/iommu\0"u8, 2, 0);
        _iommufd = new IommufdIoctls(_kernel, _fd);
        var alloc = new iommu_ioas_alloc();
        _iommufd.IoasAlloc(ref alloc);
        _ioas = alloc.out_ioas_id;
        _option = new iommu_option { option_id = (uint)iommufd_option.IOMMU_OPTION_RLIMIT_MODE, op = (ushort)iommufd_option_ops.IOMMU_OPTION_OP_GET };
        _map = new iommu_ioas_map { flags = 7, ioas_id = _ioas, user_va = 0x10000, length = 4096, iova = 0x100000 };
        _unmap = new iommu_ioas_unmap { ioas_id = _ioas, iova = 0x100000, length = 4096 };
        _file = (IommufdFile)_kernel.FileOf(_fd)!;
        _thread = EngineThread.Current.Id;         // the dispatcher's one thread-local lookup, left out with it
    }

    [GlobalCleanup]
    public void Cleanup() => _kernel.Close(_fd);

    /// <summary>What the trivial ioctl computes, as a plain call.</summary>
    [Benchmark(Baseline = true)]
    public ulong DirectMethodCall() => ReadMode();

    [Benchmark]
    public Errno TrivialIoctl() => _iommufd.TryOption(ref _option);

    /// <summary>The pair as the driver API makes it: the arguments are locals on the caller's stack.</summary>
    [Benchmark]
    public Errno MapUnmap4KiBPair()
    {
        iommu_ioas_map map = _map;
        map.iova = 0x100000;
        Errno e = _iommufd.TryIoasMap(ref map);
        iommu_ioas_unmap unmap = _unmap;
        unmap.length = 4096;
        return e | _iommufd.TryIoasUnmap(ref unmap);
    }

    /// <summary>
    /// The pair with its arguments in a heap object: memory the engine cannot vouch for, so every
    /// copy in and out is checked by the kernel (process_vm_readv/writev), as copy_from_user would fault.
    /// </summary>
    [Benchmark]
    public Errno MapUnmap4KiBPairHeapArguments()
    {
        _map.iova = 0x100000;
        Errno e = _iommufd.TryIoasMap(ref _map);
        _unmap.length = 4096;
        return e | _iommufd.TryIoasUnmap(ref _unmap);
    }

    /// <summary>
    /// <see cref="MapUnmap4KiBPair"/> without the dispatch: IOAS_MAP's and IOAS_UNMAP's handlers on
    /// the caller's structs, as IommufdFile.Ioctl calls them on its kernel copy (unlocked, answering).
    /// </summary>
    [Benchmark]
    public int MapUnmap4KiBPairHandlersOnly()
    {
        iommu_ioas_map map = _map;
        map.iova = 0x100000;
        var call = new IommufdFile.IoctlCall { Respond = true, NewFd = -1, Thread = _thread };
        int rc = IommufdFile.IoasMap(_file, (byte*)&map, ref call);
        iommu_ioas_unmap unmap = _unmap;
        unmap.length = 4096;
        call = new IommufdFile.IoctlCall { Respond = true, NewFd = -1, Thread = _thread };
        return rc | IommufdFile.IoasUnmap(_file, (byte*)&unmap, ref call);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ulong ReadMode() => _mode;
}
