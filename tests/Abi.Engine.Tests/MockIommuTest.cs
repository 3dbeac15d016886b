using Abi.Engine.Selftest;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.Selftest.Uapi.Constants;
using iommu_test_cmd = Abi.Engine.Selftest.Uapi.iommu_test_cmd;

namespace Abi.Engine.Tests;

/// <summary>Tests that drive the selftest's mock IOMMU through IOMMU_TEST_CMD.</summary>
public abstract unsafe class MockIommuTest : EngineTest
{
    private const uint TestCmd = IOMMU_TEST_CMD;

    protected MockIommuTest() => IommufdSelftest.Enable(Kernel);

    protected int Fd => (int)Iommufd.Fd.DangerousGetHandle();

    private protected int Test(ref iommu_test_cmd cmd)
    {
        cmd.size = (uint)sizeof(iommu_test_cmd);
        fixed (iommu_test_cmd* p = &cmd)
        {
            return Kernel.Ioctl(Fd, TestCmd, (nint)p);
        }
    }

    /// <summary>A mock device on a fresh IOAS: (ioas, stdev, automatic hwpt, device).</summary>
    protected (uint Ioas, uint Stdev, uint Hwpt, uint Device) NewMockDevice(uint flags = 0, uint ioas = 0)
    {
        ioas = ioas == 0 ? NewIoas() : ioas;
        var mock = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, id = ioas, mock_domain_flags = new() { dev_flags = flags } };
        Assert.Equal(0, Test(ref mock));
        return (ioas, mock.mock_domain_flags.out_stdev_id, mock.mock_domain_flags.out_hwpt_id, mock.mock_domain_flags.out_idev_id);
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
