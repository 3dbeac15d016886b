using System.Runtime.InteropServices;
using Abi.Interop;

namespace Abi.Linux.Tests;

public sealed unsafe class WrapperTests
{
    [Fact]
    public void StructIoctl_FillsSizePassesACopyAndRequest_AndCopiesTheAnswerBack()
    {
        // The kernel gets the struct as a copy on the wrapper's stack frame; what it writes comes back.
        var seam = new RecordingSeam { Handler = &AnswerIova };
        var iommufd = new IommufdIoctls(seam, fd: 7);
        var map = new iommu_ioas_map { ioas_id = 3, length = 4096 };

        Assert.Equal(Errno.None, iommufd.TryIoasMap(ref map));
        Assert.Equal(40u, map.size);
        Assert.Equal(7, seam.LastFd);
        Assert.Equal(0x3B85u, seam.LastRequest);
        Assert.NotEqual((nint)(&map), seam.LastArgument);
        Assert.Equal((3u, 4096ul, 0x1234_5000ul), (map.ioas_id, map.length, map.iova));
    }

    private static int AnswerIova(nint argument)
    {
        var seen = (iommu_ioas_map*)argument;
        Assert.Equal((40u, 3u, 4096ul), (seen->size, seen->ioas_id, seen->length));
        seen->iova = 0x1234_5000;
        return 0;
    }

    [Fact]
    public void Failure_IsAnErrnoFromTry_AndAnIoctlExceptionOtherwise()
    {
        var seam = new RecordingSeam { Result = -(int)Errno.EINVAL };
        var device = new VfioDeviceIoctls(seam, fd: 9);
        var info = new vfio_device_info();

        Assert.Equal(Errno.EINVAL, device.TryGetInfo(ref info));
        Assert.Equal(24u, info.argsz);
        IoctlException e = Assert.Throws<IoctlException>(() => device.GetInfo(ref info));
        Assert.Equal(("VFIO_DEVICE_GET_INFO", "device", Errno.EINVAL), (e.Ioctl, e.FdKind, e.Errno));
        Assert.Equal("VFIO_DEVICE_GET_INFO on device failed: EINVAL (22)", e.Message);
    }

    [Fact]
    public void ValueAndStringIoctls_PassTheirArgumentsAsTheKernelExpects()
    {
        var seam = new RecordingSeam { Result = 1 };
        var container = new VfioContainerIoctls(seam, fd: 3);
        Assert.Equal(1, container.CheckExtension(Constants.VFIO_TYPE1v2_IOMMU));
        Assert.Equal((nint)Constants.VFIO_TYPE1v2_IOMMU, seam.LastArgument);
        Assert.Equal(0x3B65u, seam.LastRequest);

        seam.Handler = &CaptureString;
        var group = new VfioGroupIoctls(seam, fd: 4);
        Assert.Equal(12, group.GetDeviceFd("0000:00:03.0"));
        Assert.Equal("0000:00:03.0", s_captured);
        Assert.Throws<ArgumentException>(() => group.GetDeviceFd("no-terminator"u8));
        Assert.Equal(12, group.GetDeviceFd("0000:00:03.0\0"u8));

        int containerFd = 3;
        seam.Handler = null;
        seam.Result = 0;
        group.SetContainer(ref containerFd);
        Assert.Equal(3, *(int*)seam.LastArgument);
    }

    [ThreadStatic]
    private static string? s_captured;

    private static int CaptureString(nint argument)
    {
        s_captured = Marshal.PtrToStringUTF8(argument);
        return 12;
    }

    [Fact]
    public void VariableLengthIoctl_TakesACallersBufferAndSetsArgszToItsLength()
    {
        var seam = new RecordingSeam();
        var device = new VfioDeviceIoctls(seam, fd: 5);
        Span<byte> buffer = stackalloc byte[vfio_irq_set.SizeWithData(2 * sizeof(int))];
        ref vfio_irq_set set = ref vfio_irq_set.FromBuffer(buffer);
        set.flags = Constants.VFIO_IRQ_SET_DATA_EVENTFD | Constants.VFIO_IRQ_SET_ACTION_TRIGGER;
        set.count = 2;
        MemoryMarshal.Cast<byte, int>(vfio_irq_set.GetData(buffer))[1] = 42;

        device.SetIrqs(buffer);

        Assert.Equal(28u, set.argsz);
        Assert.Equal(42, ((int*)(seam.LastArgument + 20))[1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => device.TrySetIrqs(new byte[8]));
    }

    [Fact]
    public void WrapperCalls_AllocateNothing()
    {
        var seam = new RecordingSeam();
        var iommufd = new IommufdIoctls(seam, fd: 1);
        var container = new VfioContainerIoctls(seam, fd: 2);
        var device = new VfioDeviceIoctls(seam, fd: 3);
        var group = new VfioGroupIoctls(seam, fd: 4);
        var map = new iommu_ioas_map();
        var unmap = new iommu_ioas_unmap();
        Span<byte> irqs = stackalloc byte[vfio_irq_set.SizeWithData(4 * sizeof(int))];
        ReadOnlySpan<byte> name = "0000:00:03.0\0"u8;
        for (int i = 0; i < 1000; i++)
        {
            Round(irqs, name);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            Round(irqs, name);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(505_000, seam.Calls);

        // struct, value, buffer (variable-length) and string forms; *WithCapabilities rents a pooled buffer by design.
        void Round(Span<byte> irqBuffer, ReadOnlySpan<byte> deviceName)
        {
            iommufd.IoasMap(ref map);
            _ = iommufd.TryIoasUnmap(ref unmap);
            _ = container.TryCheckExtension(1, out _);
            _ = device.TrySetIrqs(irqBuffer);
            _ = group.TryGetDeviceFd(deviceName, out _);
        }
    }
}
