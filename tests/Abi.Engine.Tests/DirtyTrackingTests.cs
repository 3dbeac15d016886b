using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>IOMMU_HWPT_SET_DIRTY_TRACKING and IOMMU_HWPT_GET_DIRTY_BITMAP with device writes (drivers/iommu/iommufd/hw_pagetable.c: iommufd_hwpt_set_dirty_tracking, iommufd_hwpt_get_dirty_bitmap).</summary>
public sealed class DirtyTrackingTests : DeviceTest
{
    private const ulong Iova = 0x100_0000;

    [Fact]
    public unsafe void DeviceWrites_SetExactlyTheirBits_WithClearAndNoClear()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 64 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out uint deviceId);
        using Hwpt hwpt = Iommufd.AllocHwpt(deviceId, ioas.Id, iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
        device.Attach(hwpt.Id);
        device.WriteConfig32(0x04, 0x6);
        ioas.Map(memory, Iova);

        Assert.True(Edu.Dma.Write(Iova + (3 * 4096), new byte[8]));          // before tracking: not recorded
        hwpt.SetDirtyTracking(true);
        Assert.True(Edu.Dma.Write(Iova + (5 * 4096) + 4090, new byte[10]));  // pages 5 and 6
        Assert.True(Edu.Dma.Write(Iova + (40 * 4096), new byte[1]));         // page 40
        Assert.True(Edu.Dma.Read(Iova + (50 * 4096), new byte[100]));        // reads dirty nothing

        Span<ulong> bitmap = stackalloc ulong[1];
        hwpt.GetDirtyBitmap(Iova, 64 * 4096, 4096, bitmap, clear: false);
        Assert.Equal((1ul << 5) | (1ul << 6) | (1ul << 40), bitmap[0]);
        hwpt.GetDirtyBitmap(Iova, 64 * 4096, 4096, bitmap, clear: false);   // NO_CLEAR: the same again
        Assert.Equal((1ul << 5) | (1ul << 6) | (1ul << 40), bitmap[0]);
        hwpt.GetDirtyBitmap(Iova, 64 * 4096, 8192, bitmap);                  // 8 KiB granules: 5,6 → 2,3; 40 → 20
        Assert.Equal((1ul << 2) | (1ul << 3) | (1ul << 20), bitmap[0]);
        hwpt.GetDirtyBitmap(Iova, 64 * 4096, 4096, bitmap);                  // cleared by the read before
        Assert.Equal(0ul, bitmap[0]);

        // The bitmap may sit at any byte address, and the kernel only ORs into it.
        Assert.True(Edu.Dma.Write(Iova + 4096, new byte[1]));
        byte[] raw = new byte[32];
        raw[0x11 + 1] = 0x80;                                                 // a bit the caller set itself
        fixed (byte* p = raw)
        {
            var get = new iommu_hwpt_get_dirty_bitmap { hwpt_id = hwpt.Id, iova = Iova, length = 64 * 4096, page_size = 4096, data = (ulong)(p + 0x11) };
            Assert.Equal(Errno.None, Raw.TryHwptGetDirtyBitmap(ref get));
        }

        Assert.Equal(0x02, raw[0x11]);
        Assert.Equal(0x80, raw[0x12]);

        // An unmapped IOVA reports nothing, even if it was written before.
        Assert.True(Edu.Dma.Write(Iova + (9 * 4096), new byte[1]));
        ioas.Unmap(Iova, 64 * 4096);
        hwpt.GetDirtyBitmap(Iova, 64 * 4096, 4096, bitmap);
        Assert.Equal(0ul, bitmap[0]);
        device.Detach();
    }

    [Fact]
    public void DirtyIoctls_ValidateLikeTheKernel()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out uint deviceId);
        uint plain = device.Attach(ioas.Id);                                  // automatic: no dirty ops
        using Hwpt tracked = Iommufd.AllocHwpt(deviceId, ioas.Id, iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING);

        var set = new iommu_hwpt_set_dirty_tracking { hwpt_id = plain, flags = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptSetDirtyTracking(ref set));
        set = new iommu_hwpt_set_dirty_tracking { hwpt_id = ioas.Id, flags = 1 };
        Assert.Equal(Errno.ENOENT, Raw.TryHwptSetDirtyTracking(ref set));
        set = new iommu_hwpt_set_dirty_tracking { hwpt_id = tracked.Id, flags = 2 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptSetDirtyTracking(ref set));
        set = new iommu_hwpt_set_dirty_tracking { hwpt_id = tracked.Id, flags = 1 };
        Assert.Equal(Errno.None, Raw.TryHwptSetDirtyTracking(ref set));
        Assert.Equal(Errno.None, Raw.TryHwptSetDirtyTracking(ref set));     // enabling twice is fine

        ulong[] word = new ulong[1];
        Errno Get(uint hwpt, ulong iova, ulong length, ulong pageSize, uint flags = 0, uint reserved = 0)
        {
            unsafe
            {
                fixed (ulong* p = word)
                {
                    var get = new iommu_hwpt_get_dirty_bitmap { hwpt_id = hwpt, iova = iova, length = length, page_size = pageSize, flags = flags, __reserved = reserved, data = (ulong)p };
                    return Raw.TryHwptGetDirtyBitmap(ref get);
                }
            }
        }

        Assert.Equal(Errno.EOPNOTSUPP, Get(tracked.Id, 0, 4096, 4096, flags: 2));
        Assert.Equal(Errno.EOPNOTSUPP, Get(tracked.Id, 0, 4096, 4096, reserved: 1));
        Assert.Equal(Errno.ENOENT, Get(ioas.Id, 0, 4096, 4096));
        Assert.Equal(Errno.EOVERFLOW, Get(tracked.Id, ulong.MaxValue - 4095, 8192, 4096));
        Assert.Equal(Errno.EINVAL, Get(tracked.Id, 0x800, 4096, 4096));       // not IOAS aligned
        Assert.Equal(Errno.EINVAL, Get(tracked.Id, 0, 4096, 0));
        Assert.Equal(Errno.EINVAL, Get(tracked.Id, 4096, 4096, 8192));        // not page_size aligned
        Assert.Equal(Errno.EOPNOTSUPP, Get(plain, 0, 4096, 4096));            // range checks come first, then dirty ops
        Assert.Equal(Errno.None, Get(tracked.Id, 0, 64 * 4096, 4096));
        device.Detach();
    }
}
