using Abi.Engine.Iommufd;
using Abi.Interop;
using Abi.Linux;

namespace Abi.Engine.Tests;

/// <summary>
/// The fail-nth sweep: a scenario run once per failure point, failing the n-th point reached, until
/// a run reaches fewer points than n. Each injected failure must come back as ENOMEM from the call
/// that hit it, with the engine's invariants intact and the state as before that call.
/// </summary>
public sealed unsafe class FailNthTests
{
    [Fact]
    public void FailNthFile_CountsTheEnginesPoints_LikeATasksFailNth()
    {
        var kernel = new EmulatedKernel();
        int files = kernel.OpenFiles;
        int real = kernel.Open("/proc/self/task/1/fail-nth\0"u8, 2, 0);
        Assert.Equal(files, kernel.OpenFiles);                                    // off: the kernel's own path
        if (real >= 0)
        {
            Assert.Equal(0, kernel.Close(real));
        }

        kernel.ServeFailNth = true;
        int nth = kernel.Open("/proc/self/task/1/fail-nth\0"u8, 2, 0);
        Assert.True(nth >= 0);
        int fd = kernel.Open("/dev/iommu\0"u8, 2, 0);
        var ioctls = new IommufdIoctls(kernel, fd);
        Span<byte> text = stackalloc byte[16];

        Assert.Equal(-(long)Errno.EINVAL, kernel.Pwrite(nth, "two"u8, 0));
        Assert.Equal(1, kernel.Pwrite(nth, "2"u8, 0));
        var alloc = new iommu_ioas_alloc();
        Assert.Equal(Errno.None, ioctls.TryIoasAlloc(ref alloc));                 // point 1
        Assert.Equal(2, kernel.Pread(nth, text, 0));
        Assert.Equal("1\n"u8, text[..2]);                                          // one to go
        Assert.Equal(Errno.ENOMEM, ioctls.TryIoasAlloc(ref alloc));               // point 2 fails
        Assert.Equal(2, kernel.Pread(nth, text, 0));
        Assert.Equal("0\n"u8, text[..2]);                                          // injected
        Assert.Equal(Errno.None, ioctls.TryIoasAlloc(ref alloc));                 // and only once

        // read() goes through the position, which simple_read_from_buffer moves and the write leaves.
        Assert.Equal(1, kernel.Write(nth, "5"u8));
        Assert.Equal(2, kernel.Read(nth, text));
        Assert.Equal("5\n"u8, text[..2]);
        Assert.Equal(0, kernel.Read(nth, text));                                   // at the end now
        Assert.Equal(2, kernel.Pread(nth, text, 0));

        Assert.Equal(1, kernel.Pwrite(nth, "0"u8, 0));
        Assert.Equal(0, kernel.Faults.FailNth);
        Assert.Equal(0, kernel.Close(fd));
        Assert.Equal(0, kernel.Close(nth));
    }

    [Fact]
    public void EveryInjectedFailure_ReturnsAnErrno_AndLeavesTheInvariantsIntact()
    {
        int injected = 0;
        for (int n = 1; ; n++)
        {
            var kernel = new EmulatedKernel();
            kernel.Faults.FailNth = n;
            int fd = kernel.Open("/dev/iommu\0"u8, 2, 0);
            var ctx = (IommufdFile)kernel.FileOf(fd)!;
            var ioctls = new IommufdIoctls(kernel, fd);
            bool failedOnce = false;

            foreach (Func<IommufdIoctls, Errno> step in Scenario())
            {
                int areasBefore = AreaCount(ctx);
                int objectsBefore = ctx.Objects.Count;
                Errno errno = step(ioctls);
                InvariantTests.CheckInvariants(ctx);
                if (kernel.Faults.FailedPoint is not null && !failedOnce)
                {
                    failedOnce = true;
                    injected++;
                    Assert.Equal(Errno.ENOMEM, errno);
                    Assert.Equal(areasBefore, AreaCount(ctx));
                    Assert.Equal(objectsBefore, ctx.Objects.Count);
                }
            }

            Assert.Equal(0, kernel.Close(fd));
            Assert.Equal(0, kernel.OpenFiles);
            if (kernel.Faults.Reached < n)
            {
                break;
            }
        }

        // The scenario has 2 IOAS allocations, 3 maps (page + area points each) and a copy (area point).
        Assert.Equal(9, injected);
    }

    [Fact]
    public void WithADeviceAndDomains_EveryInjectedFailure_ReturnsEnomem_AndLeavesTheInvariantsIntact()
    {
        int injected = 0;
        var points = new HashSet<string>();
        for (int n = 1; ; n++)
        {
            var kernel = new EmulatedKernel();
            kernel.Accounting.HasIpcLock = false;
            string cdev = kernel.AddDevice(new Abi.Engine.Devices.EduDevice()).CdevPath! + "\0";
            using var memory = Abi.Runtime.Memory.DmaBuffer.Allocate(kernel, 4 * 4096, preferHugePages: false);
            int fd = kernel.Open("/dev/iommu\0"u8, 2, 0);
            int deviceFd = kernel.Open(System.Text.Encoding.ASCII.GetBytes(cdev), 2, 0);
            var ctx = (IommufdFile)kernel.FileOf(fd)!;
            var ioctls = new IommufdIoctls(kernel, fd);
            var device = new VfioDeviceIoctls(kernel, deviceFd);
            var bind = new vfio_device_bind_iommufd { argsz = 16, iommufd = fd };
            Assert.Equal(Errno.None, device.TryBindIommufd(ref bind));
            kernel.Faults.FailNth = n;
            bool failedOnce = false;

            uint first = 0, second = 0;
            Func<Errno>[] steps =
            [
                () => { var a = new iommu_ioas_alloc(); Errno e = ioctls.TryIoasAlloc(ref a); first = a.out_ioas_id; return e; },
                () => MapKnown(ioctls, (ulong)memory.Address, 2 * 4096, 0x100000, first),
                () => { var a = new vfio_device_attach_iommufd_pt { argsz = 12, pt_id = first }; return device.TryAttachIommufdPt(ref a); },
                () => MapKnown(ioctls, (ulong)memory.Address + (2 * 4096), 4096, 0x200000, first),
                () => { var a = new iommu_ioas_alloc(); Errno e = ioctls.TryIoasAlloc(ref a); second = a.out_ioas_id; return e; },
                () => MapKnown(ioctls, (ulong)memory.Address, 4096, 0x100000, second),
                () => { var h = new iommu_hwpt_alloc { size = 48, dev_id = bind.out_devid, pt_id = second }; return ioctls.TryHwptAlloc(ref h); },
                () => { var u = new iommu_ioas_unmap { ioas_id = first, iova = 0, length = ulong.MaxValue }; return ioctls.TryIoasUnmap(ref u); },
            ];
            foreach (Func<Errno> step in steps)
            {
                int areasBefore = AreaCount(ctx);
                int objectsBefore = ctx.Objects.Count;
                long pinnedBefore = kernel.Accounting.MmPinnedPages;
                Errno errno = step();
                InvariantTests.CheckInvariants(ctx);
                if (kernel.Faults.FailedPoint is string point && !failedOnce)
                {
                    failedOnce = true;
                    injected++;
                    points.Add(point);
                    Assert.Equal(Errno.ENOMEM, errno);
                    Assert.Equal(areasBefore, AreaCount(ctx));
                    Assert.Equal(objectsBefore, ctx.Objects.Count);
                    Assert.Equal(pinnedBefore, kernel.Accounting.MmPinnedPages);
                }
            }

            Assert.Equal(0, kernel.Close(deviceFd));
            Assert.Equal(0, kernel.Close(fd));
            Assert.Equal(0, kernel.OpenFiles);
            Assert.Equal(0, kernel.Accounting.MmPinnedPages);
            if (kernel.Faults.FailedPoint is null)
            {
                break;      // a clean run: n is past the last point (an earlier failure may cut later points short, so Reached alone does not say)
            }
        }

        Assert.Contains("pages.account", points);
        // 2 IOAS allocations; 3 maps (pages + area points, and the charge for the one into a domain);
        // the attach and the HWPT allocation (HWPT point + the charge for filling the new domain).
        Assert.Equal(13, injected);
    }

    private static Errno MapKnown(IommufdIoctls ioctls, ulong va, ulong length, ulong iova, uint ioas)
    {
        var map = new iommu_ioas_map { flags = 7, ioas_id = ioas, user_va = va, length = length, iova = iova };
        return ioctls.TryIoasMap(ref map);
    }

    private static IEnumerable<Func<IommufdIoctls, Errno>> Scenario()
    {
        yield return i => { var a = new iommu_ioas_alloc(); return i.TryIoasAlloc(ref a); };
        yield return i => { var a = new iommu_ioas_alloc(); return i.TryIoasAlloc(ref a); };
        yield return i => Map(i, 1, 0x100000);
        yield return i => Map(i, 1, 0x200000);
        yield return i => Map(i, 2, 0x100000);
        yield return i =>
        {
            var copy = new iommu_ioas_copy { flags = 7, dst_ioas_id = 2, src_ioas_id = 1, length = 4096, dst_iova = 0x300000, src_iova = 0x100000 };
            return i.TryIoasCopy(ref copy);
        };
        yield return i => { var u = new iommu_ioas_unmap { ioas_id = 1, iova = 0, length = ulong.MaxValue }; return i.TryIoasUnmap(ref u); };
        yield return i => { var d = new iommu_destroy { id = 2 }; return i.TryDestroy(ref d); };
    }

    private static Errno Map(IommufdIoctls ioctls, uint ioas, ulong iova)
    {
        var map = new iommu_ioas_map { flags = 7, ioas_id = ioas, user_va = 0x10000, length = 4096, iova = iova };
        return ioctls.TryIoasMap(ref map);
    }

    private static int AreaCount(IommufdFile ctx) => ctx.Objects.All().OfType<IoasObject>().Sum(i => i.Iopt.AreaCount);
}
