using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>IOMMU_FAULT_QUEUE_ALLOC and its fd (drivers/iommu/iommufd/eventq.c: iommufd_fault_alloc).</summary>
public sealed class FaultQueueTests : EngineTest
{
    [Fact]
    public void FaultQueue_HasAnFdThatPinsIt_AndReadsAndWritesLikeTheKernel()
    {
        var bad = new iommu_fault_alloc { flags = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryFaultQueueAlloc(ref bad));

        var alloc = new iommu_fault_alloc();
        Assert.Equal(Errno.None, Raw.TryFaultQueueAlloc(ref alloc));
        int fd = (int)alloc.out_fault_fd;
        Assert.True(fd > 2);

        var destroy = new iommu_destroy { id = alloc.out_fault_id };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));

        Assert.Equal(0, Kernel.Read(fd, new byte[40]));                         // empty: 0, never blocks
        Assert.Equal(-(long)Errno.ESPIPE, Kernel.Read(fd, new byte[39]));
        Assert.Equal(-(long)Errno.ESPIPE, Kernel.Pread(fd, new byte[40], 40));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Pread(fd, new byte[40], -1));               // a negative offset, before the file's lack of pread
        Assert.Equal(-(long)Errno.ESPIPE, Kernel.Write(fd, new byte[7]));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Write(fd, new byte[8]));         // no such cookie
        Span<PollFd> poll = [new PollFd { Fd = fd, Events = LinuxConstants.POLLIN | LinuxConstants.POLLOUT }];
        Assert.Equal(1, Kernel.Poll(poll, 0));
        Assert.Equal(LinuxConstants.POLLOUT, poll[0].ReturnedEvents);

        Assert.Equal(0, Kernel.Close(fd));
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));
    }
}
