using Abi.Linux;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>A fresh engine context per test: its own EmulatedKernel and /dev/iommu.</summary>
public abstract class EngineTest : IDisposable
{
    protected EngineTest()
    {
        Kernel = new EmulatedKernel();
        Iommufd = IommuFd.Open(Kernel);
    }

    protected EmulatedKernel Kernel { get; }

    protected IommuFd Iommufd { get; }

    protected IommufdIoctls Raw => Iommufd.Raw();

    public void Dispose()
    {
        Iommufd.Dispose();
        GC.SuppressFinalize(this);
    }

    protected uint NewIoas()
    {
        var alloc = new iommu_ioas_alloc();
        Assert.Equal(Abi.Interop.Errno.None, Raw.TryIoasAlloc(ref alloc));
        return alloc.out_ioas_id;
    }

    protected static iommu_ioas_map Map(uint ioas, ulong va, ulong length, ulong iova = 0, bool fixedIova = true, uint access = 6) => new()
    {
        flags = access | (fixedIova ? 1u : 0u),
        ioas_id = ioas,
        user_va = va,
        length = length,
        iova = iova,
    };
}
