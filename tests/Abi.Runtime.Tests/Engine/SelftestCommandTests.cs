using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Engine.Iommufd;
using Abi.Runtime.Memory;

namespace Abi.Runtime.Tests.Engine;

/// <summary>IOMMU_TEST_CMD (spec §12): off unless enabled; mock domains, reserved ranges, map and pin checks, access fds.</summary>
public sealed unsafe class SelftestCommandTests : EngineTest
{
    private const uint TestCmd = 0x3BA0;

    private int Fd => (int)Iommufd.Fd.DangerousGetHandle();

    private int Test(ref IommuTestCmd cmd)
    {
        cmd.size = IommuTestCmd.Size;
        fixed (IommuTestCmd* p = &cmd)
        {
            return Kernel.Ioctl(Fd, TestCmd, (nint)p);
        }
    }

    [Fact]
    public void Disabled_ByDefault_AsWithoutConfigIommufdTest()
    {
        var cmd = new IommuTestCmd { op = 1, id = NewIoas(), u64_16 = 0x1000, u64_24 = 0x1000 };
        Assert.Equal(-(int)Errno.ENOTTY, Test(ref cmd));
        Kernel.EnableTestCommands = true;
        Assert.Equal(0, Test(ref cmd));
        cmd.op = 99;
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Test(ref cmd));
    }

    [Fact]
    public void MockDomain_ImposesTheMockApertureAndPageSize_AndCheckMapAndRefsSeeThePins()
    {
        Kernel.EnableTestCommands = true;
        uint ioas = NewIoas();
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);

        var reserve = new IommuTestCmd { op = 1, id = ioas, u64_16 = 0x2000_0000, u64_24 = 0 };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref reserve));                      // length 0

        var mock = new IommuTestCmd { op = 2, id = ioas };
        Assert.Equal(0, Test(ref mock));
        uint stdev = mock.u32_16, hwpt = mock.u32_20, device = mock.u32_24;
        Assert.True(stdev < device && device < hwpt, $"ids {stdev} {device} {hwpt} in the kernel's order");

        var ranges = new iommu_ioas_iova_ranges { ioas_id = ioas };
        Assert.Equal(Errno.EMSGSIZE, Raw.TryIoasIovaRanges(ref ranges));          // no room: the count and alignment still come back
        Assert.Equal(2048ul, ranges.out_iova_alignment);                           // the mock's 2 KiB pages
        Assert.Equal(1u, ranges.num_iovas);                                        // [0x1000000, 0x7fffffff] only

        var outside = Map(ioas, (ulong)memory.Address, 4096, iova: 0x1000);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMap(ref outside));                   // below the aperture: reserved
        var map = Map(ioas, (ulong)memory.Address, 2 * 4096, iova: 0x100_0000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        var check = new IommuTestCmd { op = 3, id = hwpt, u64_16 = 0x100_0000, u64_24 = 2 * 4096, u64_32 = (ulong)memory.Address };
        Assert.Equal(0, Test(ref check));
        check.u64_32 += 4096;                                                      // the wrong pages
        Assert.Equal(-(int)Errno.EINVAL, Test(ref check));

        var refs = new IommuTestCmd { op = 4, u64_16 = 2 * 4096, u64_24 = (ulong)memory.Address, u32_32 = 1 };
        Assert.Equal(0, Test(ref refs));                                           // pinned once for the domain
        refs.u64_24 += 2 * 4096;
        Assert.Equal(-(int)Errno.EIO, Test(ref refs));                             // the unmapped half is not pinned
        refs.u32_32 = 0;
        Assert.Equal(0, Test(ref refs));

        var destroyDevice = new iommu_destroy { id = device };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroyDevice));
        var destroy = new iommu_destroy { id = stdev };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));                     // detaches, unbinds; the automatic HWPT goes too
        var destroyHwpt = new iommu_destroy { id = hwpt };
        Assert.Equal(Errno.ENOENT, Raw.TryDestroy(ref destroyHwpt));
        refs.u64_24 = (ulong)memory.Address;
        Assert.Equal(0, Test(ref refs));                                           // no domain: nothing pinned
    }

    [Fact]
    public void AccessFd_PinsReadsAndWrites_AndClosingItDestroysTheAccess()
    {
        Kernel.EnableTestCommands = true;
        uint ioas = NewIoas();
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        var map = Map(ioas, (ulong)memory.Address, 2 * 4096, iova: 0x40_0000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        var create = new IommuTestCmd { op = 5, id = ioas, u32_20 = 1 };            // NEEDS_PIN_PAGES
        Assert.Equal(0, Test(ref create));
        int accessFd = (int)create.u32_16;
        Assert.Equal(2, Kernel.OpenFiles);                                         // the context and the access fd

        var pin = new IommuTestCmd { op = 7, id = (uint)accessFd, u64_24 = 0x40_0000, u64_32 = 4096, u64_40 = (ulong)memory.Address };
        Assert.Equal(0, Test(ref pin));
        var refs = new IommuTestCmd { op = 4, u64_16 = 4096, u64_24 = (ulong)memory.Address, u32_32 = 1 };
        Assert.Equal(0, Test(ref refs));

        byte[] data = [9, 8, 7];
        fixed (byte* d = data)
        {
            var write = new IommuTestCmd { op = 8, id = (uint)accessFd, u64_16 = 0x40_0ffe, u64_24 = 3, u64_32 = (ulong)d, u32_40 = 1 };
            Assert.Equal(0, Test(ref write));
        }

        Assert.Equal(9, ((byte*)memory.Address)[0xffe]);
        Assert.Equal(7, ((byte*)memory.Address)[0x1000]);

        var destroyItem = new IommuTestCmd { op = 6, id = (uint)accessFd, u32_16 = 5 };
        Assert.Equal(-(int)Errno.ENOENT, Test(ref destroyItem));
        destroyItem.u32_16 = pin.u32_20;
        Assert.Equal(0, Test(ref destroyItem));
        refs.u32_32 = 0;
        Assert.Equal(0, Test(ref refs));

        var notAccess = new IommuTestCmd { op = 8, id = (uint)Fd, u64_16 = 0x40_0000, u64_24 = 1, u64_32 = (ulong)memory.Address };
        Assert.Equal(-(int)Errno.EBADF, Test(ref notAccess));

        Assert.Equal(0, Kernel.Close(accessFd));
        Assert.Equal(1, Kernel.OpenFiles);
        var destroyIoas = new iommu_destroy { id = ioas };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroyIoas));                 // the access no longer holds it
    }
}
