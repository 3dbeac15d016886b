using Abi.Engine.Selftest;
using Abi.Interop;
using Abi.Linux;

namespace Abi.Engine.Tests;

/// <summary>Tests that drive the selftest's mock IOMMU through IOMMU_TEST_CMD.</summary>
public abstract unsafe class MockIommuTest : EngineTest
{
    private const uint TestCmd = 0x3BA0;

    protected MockIommuTest() => IommufdSelftest.Enable(Kernel);

    protected int Fd => (int)Iommufd.Fd.DangerousGetHandle();

    private protected int Test(ref IommuTestCmd cmd)
    {
        cmd.size = IommuTestCmd.Size;
        fixed (IommuTestCmd* p = &cmd)
        {
            return Kernel.Ioctl(Fd, TestCmd, (nint)p);
        }
    }

    /// <summary>A mock device on a fresh IOAS: (ioas, stdev, automatic hwpt, device).</summary>
    protected (uint Ioas, uint Stdev, uint Hwpt, uint Device) NewMockDevice(uint flags = 0, uint ioas = 0)
    {
        ioas = ioas == 0 ? NewIoas() : ioas;
        var mock = new IommuTestCmd { op = 12, id = ioas, u32_28 = flags };
        Assert.Equal(0, Test(ref mock));
        return (ioas, mock.u32_16, mock.u32_20, mock.u32_24);
    }

    protected Errno AllocHwpt(uint device, uint pt, uint flags, out uint hwpt, uint dataType = 0, uint[]? data = null)
    {
        fixed (uint* d = data)
        {
            var alloc = new iommu_hwpt_alloc { dev_id = device, pt_id = pt, flags = flags, data_type = dataType, data_len = (uint)((data?.Length ?? 0) * 4), data_uptr = (ulong)d };
            Errno rc = Raw.TryHwptAlloc(ref alloc);
            hwpt = alloc.out_hwpt_id;
            return rc;
        }
    }

    protected Errno Destroy(uint id)
    {
        var destroy = new iommu_destroy { id = id };
        return Raw.TryDestroy(ref destroy);
    }
}
