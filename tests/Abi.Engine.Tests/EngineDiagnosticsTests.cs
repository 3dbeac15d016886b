using Abi.Interop;
using Abi.Linux;

namespace Abi.Engine.Tests;

/// <summary>Why a call failed: the reason the engine records per thread, built only on the failure path.</summary>
public sealed unsafe class EngineDiagnosticsTests : EngineTest
{
    [Fact]
    public void AFailedIoctl_SaysWhy_AndTheNextCallClearsIt()
    {
        int fd = (int)Iommufd.Fd.DangerousGetHandle();
        var map = new iommu_ioas_map { size = (uint)sizeof(iommu_ioas_map), flags = 0x1C, ioas_id = 1, length = 4096, iova = 0x100000 };
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Kernel.Ioctl(fd, Constants.IOMMU_IOAS_MAP, (nint)(&map)));
        Assert.Equal("unknown IOMMU_IOAS_MAP flags 0x18 or non-zero __reserved", Kernel.LastErrorReason);

        var alloc = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
        Assert.Equal(0, Kernel.Ioctl(fd, Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        Assert.Null(Kernel.LastErrorReason);
    }

    [Fact]
    public void AReasonFormats_AsStringInterpolationWould()
    {
        ulong iova = 0x1F000;
        int rc = EngineDiagnostics.Fail(Errno.EINVAL, $"[0x{iova:X}] {7,3}|{"ab",-4}|{(int?)null}|{Errno.ENOENT}");
        Assert.Equal(-(int)Errno.EINVAL, rc);
        Assert.Equal($"[0x{iova:X}] {7,3}|{"ab",-4}|{(int?)null}|{Errno.ENOENT}", EngineDiagnostics.LastReason);
    }

    [Fact]
    public void AReasonBuiltWhileAnotherIs_TakesOnlyItsOwnPart()
    {
        // The argument fails itself (its reason is recorded) before the outer reason is finished.
        int rc = EngineDiagnostics.Fail(Errno.EBUSY, $"outer {Inner()} end");
        Assert.Equal(-(int)Errno.EBUSY, rc);
        Assert.Equal("outer (inner ENOENT at 0x10) end", EngineDiagnostics.LastReason);

        static string Inner()
        {
            int inner = EngineDiagnostics.Fail(Errno.ENOENT, $"inner at 0x{16:X}");
            Assert.Equal("inner at 0x10", EngineDiagnostics.LastReason);
            return $"(inner {(Errno)(-inner)} at 0x10)";
        }
    }

    [Fact]
    public void Reasons_BelongToTheirThread()
    {
        _ = EngineDiagnostics.Fail(Errno.EPERM, $"this thread {1}");
        string? other = null;
        var thread = new Thread(() =>
        {
            _ = EngineDiagnostics.Fail(Errno.EIO, $"that thread {2}");
            other = EngineDiagnostics.LastReason;
        });
        thread.Start();
        thread.Join();
        Assert.Equal("that thread 2", other);
        Assert.Equal("this thread 1", EngineDiagnostics.LastReason);
    }
}
