using Abi.Engine.Iommufd;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>Access objects: the software DMA path of emulated devices (drivers/iommu/iommufd/device.c: iommufd_access_create, iommufd_access_pin_pages).</summary>
public sealed class AccessTests : EngineTest
{
    private const ulong Iova = 0x80_0000;

    private IommufdFile Context => (IommufdFile)Kernel.FileOf((int)Iommufd.Fd.DangerousGetHandle())!;

    [Fact]
    public void Attach_PinRwAndUnmapNotification_FollowTheKernel()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address, 2 * 4096, Iova);
        ioas.Map(memory.Address + (2 * 4096), 4096, Iova + (2 * 4096), iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
        var unmaps = new List<(ulong, ulong)>();
        AccessObject access = Context.CreateAccess((iova, length) => unmaps.Add((iova, length)));

        Assert.Equal(-(int)Errno.ENOENT, access.Pin(Iova, 4096, write: false));            // not attached
        Assert.Equal(-(int)Errno.ENOENT, access.Attach(77));
        Assert.Equal(0, access.Attach(ioas.Id));
        Assert.Equal(4096ul, ioas.GetIovaRanges().Alignment);                                 // raised while attached

        // device.c: iopt_area_contig_is_aligned: a pin starts on a page of the mapping (VFIO aligns down itself).
        Assert.Equal(-(int)Errno.EINVAL, access.Pin(Iova + 1, 4096, write: false));
        Assert.Equal(0, access.Pin(Iova + 4096, 100, write: false));                         // a start on a page, any length
        (ulong pinIova, ulong pinLast) = Assert.Single(access.Pins);
        Assert.Equal((Iova + 4096, Iova + 4096 + 99), (pinIova, pinLast));
        access.Unpin(Iova + 4096, 100);
        Assert.Empty(access.Pins);
        Assert.Equal(-(int)Errno.ENOENT, access.Pin(Iova, 5 * 4096, write: false));           // runs into a hole
        Assert.Equal(-(int)Errno.EPERM, access.Pin(Iova, 3 * 4096, write: true));             // the last page is read-only
        Assert.Equal(0, access.Pin(Iova, 3 * 4096, write: false));

        byte[] data = [1, 2, 3, 4, 5];
        Assert.Equal(0, access.Rw(Iova + 4094, data, write: true));                           // across a page, any alignment
        Assert.Equal(data, memory.Slice(4094, 5).ToArray());
        Assert.Equal(-(int)Errno.EPERM, access.Rw(Iova + (2 * 4096), data, write: true));
        Assert.Equal(-(int)Errno.ENOENT, access.Rw(Iova + (3 * 4096), data, write: false));

        var destroy = new iommu_destroy { id = ioas.Id };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));                               // the access holds the IOAS
        destroy.id = access.Id;
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));                               // VFIO owns access ids

        Assert.Equal(2ul * 4096, ioas.Unmap(Iova, 2 * 4096));
        Assert.Equal([(Iova, 2ul * 4096)], unmaps);                                            // told before the unmap
        access.Detach();
        Assert.Equal(1ul, ioas.GetIovaRanges().Alignment);
    }

    [Fact]
    public void Attach_RefusesAnIoasWithUnalignedMappings()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map((nint)0x10000, 0x800, Iova);
        AccessObject access = Context.CreateAccess(null);
        Assert.Equal(-(int)Errno.EADDRINUSE, access.Attach(ioas.Id));
        Assert.Null(access.Ioas);
    }
}
