using System.Runtime.InteropServices;
using System.Text;
using Abi.Engine.Devices;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;

namespace Abi.Engine.Tests;

/// <summary>
/// A type1 container's UNMAP_DMA flags as vfio_iommu_type1.c answers them: dirty reports word for word
/// (update_user_bitmap per mapping; vfio_iova_dirty_bitmap clears only each mapping's own bits after
/// reporting) and VADDR after the range's checks (vfio_dma_do_unmap). The TYPE1v2 steps run on the real
/// kernel in the conformance scenario too (Type1Scenario: DirtyBitmaps, Vaddr).
/// </summary>
public sealed unsafe class Type1UnmapTests : IDisposable
{
    private const ulong Base = 0x100000, Pattern = 0xAAAA_AAAA_AAAA_AAAA;
    private const ulong Unwritable = 0x1000;         // below mmap_min_addr: never mapped, yet access_ok
    private readonly EmulatedKernel _kernel = new(ContainerBackend.Type1);
    private readonly DmaBuffer _memory;
    private readonly int _group, _container;
    private readonly EmulatedDeviceInfo _second;
    private readonly ulong* _bits = (ulong*)NativeMemory.AllocZeroed(2 * sizeof(ulong));
    private readonly byte* _arg = (byte*)NativeMemory.AllocZeroed(48);

    public Type1UnmapTests()
    {
        EmulatedDeviceInfo node = _kernel.AddDevice(new EduDevice());
        _second = _kernel.AddDevice(new EduDevice());           // its own group, for attaching later
        _memory = DmaBuffer.Allocate(_kernel, 16 * 4096, preferHugePages: false);
        _group = _kernel.Open(Encoding.ASCII.GetBytes(node.GroupPath + "\0"), 2, 0);
        _container = _kernel.Open("/dev/vfio/vfio\0"u8, 2, 0);
        int container = _container;
        Assert.Equal(0, _kernel.Ioctl(_group, (uint)Constants.VFIO_GROUP_SET_CONTAINER, (nint)(&container)));
    }

    public void Dispose()
    {
        _kernel.Close(_container);
        _kernel.Close(_group);
        _memory.Dispose();
        NativeMemory.Free(_arg);
        NativeMemory.Free(_bits);
    }

    [Fact]
    public void AnUnwritableBitmap_IsNeverTouched_WhenNoMappingIsInTheRange()
    {
        SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        // Seed 6358 of a 2000-call --vfio run: vfio_dma_do_unmap reaches the bitmap only through
        // update_user_bitmap, once per mapping it removes, so over an empty range the call succeeds. The
        // engine wrote the whole bitmap first and answered EFAULT.
        Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
        Assert.Equal(0, UnmapWithBitmap(0x300000, 0x4000, (ulong*)Unwritable, out ulong size));
        Assert.Equal(0ul, size);

        // Over a mapping the report faults and the mapping stays (the walk stops before removing it).
        Assert.Equal(0, Map(Base, 0x4000));
        Assert.Equal(-(int)Errno.EFAULT, UnmapWithBitmap(Base, 0x4000, (ulong*)Unwritable, out _));
        Assert.Equal(0x4000ul, Unmap(Base, 0x4000));
    }

    [Fact]
    public void Reports_WriteOnlyTheMappingsWords_AndKeepWhatTheKernelsBitmapsKeep()
    {
        SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
        Assert.Equal(0, Map(Base, 0x4000));                 // bits 0-3
        Assert.Equal(0, Map(Base + 0x5000, 0x3000));        // bits 5-7: starts inside word 0, five bits in

        // Round 1: the first mapping writes word 0 whole (0xF, the pattern gone above its bits); the
        // second reads word 0, ORs it into its own bitmap and writes 0xE0 | 0xF. Word 1 is no mapping's.
        Assert.Equal(0, GetBitmap(Base, 0x8000));
        Assert.Equal(0xEFul, _bits[0]);
        Assert.Equal(Pattern, _bits[1]);

        // Round 2: the second mapping's bitmap kept what round 1 left above its three bits (the word it
        // read in, bit 3; its own bits shifted to 5-7), which shift up with this round's bits.
        Assert.Equal(0, GetBitmap(Base, 0x8000));
        Assert.Equal(0x1DEFul, _bits[0]);
        Assert.Equal(Pattern, _bits[1]);

        // The unmap reports the same way once more, then removes both mappings.
        _bits[0] = _bits[1] = Pattern;
        Assert.Equal(0, UnmapWithBitmap(Base, 0x8000, _bits, out ulong size));
        Assert.Equal(0x7000ul, size);
        Assert.Equal(0x3BDEFul, _bits[0]);
        Assert.Equal(Pattern, _bits[1]);
    }

    [Fact]
    public void StoppingTracking_DropsTheBitmaps_AndStartingAgainBeginsClean()
    {
        SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
        Assert.Equal(0, Map(Base, 0x4000));
        Assert.Equal(0, Map(Base + 0x5000, 0x3000));
        Assert.Equal(0, GetBitmap(Base, 0x8000));
        Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));
        Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
        Assert.Equal(0, GetBitmap(Base, 0x8000));
        Assert.Equal(0xEFul, _bits[0]);                     // as round 1 above: nothing left from before the stop
    }

    [Fact]
    public void VaddrOnV2_ChecksTheRangeFirst_AndInvalidatesWholeMappingsOnce()
    {
        // vfio_dma_do_unmap: the v2 checks for a bisected mapping come before the walk that looks at
        // VADDR; the engine invalidated the mapping a range only cut into.
        SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        Assert.Equal(0, Map(Base, 0x4000));
        Assert.Equal(-(int)Errno.EINVAL, UnmapVaddr(Base + 0x1000, 0x1000, out _));
        Assert.Equal(-(int)Errno.EINVAL, MapVaddr(Base, 0x4000));           // still valid: nothing to give back
        Assert.Equal(0, UnmapVaddr(Base, 0x4000, out ulong size));
        Assert.Equal(0x4000ul, size);
        Assert.Equal(-(int)Errno.EINVAL, UnmapVaddr(Base, 0x4000, out _));  // already invalid
        Assert.Equal(0, MapVaddr(Base, 0x4000));
        Assert.Equal(0x4000ul, Unmap(Base, 0x4000));
    }

    [Fact]
    public void VaddrOnV1_OverAMappingThatStartsBeforeTheRange_ChangesNothing()
    {
        // v1: the walk's first mapping starts before iova, which ends it (unmapped 0, success) before
        // VADDR is looked at; a range that starts on the mapping invalidates it whole.
        SetIommu(Constants.VFIO_TYPE1_IOMMU);
        Assert.Equal(0, Map(Base, 0x4000));
        Assert.Equal(0, UnmapVaddr(Base + 0x1000, 0x1000, out ulong size));
        Assert.Equal(0ul, size);
        Assert.Equal(-(int)Errno.EINVAL, MapVaddr(Base, 0x4000));           // not invalidated
        Assert.Equal(0, UnmapVaddr(Base, 0x1000, out size));
        Assert.Equal(0x4000ul, size);
        Assert.Equal(0, MapVaddr(Base, 0x4000));
    }

    [Fact]
    public void AnInvalidatedVaddr_KeepsNewGroupsOut_UntilMapDmaGivesItBack()
    {
        // vfio_iommu_type1_attach_group: EBUSY while vaddr_invalid_count is non-zero (attaching may pin).
        SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        Assert.Equal(0, Map(Base, 0x4000));
        Assert.Equal(0, UnmapVaddr(Base, 0x4000, out _));
        int group = _kernel.Open(Encoding.ASCII.GetBytes(_second.GroupPath + "\0"), 2, 0);
        int container = _container;
        Assert.Equal(-(int)Errno.EBUSY, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_SET_CONTAINER, (nint)(&container)));
        Assert.Equal(0, MapVaddr(Base, 0x4000));
        Assert.Equal(0, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_SET_CONTAINER, (nint)(&container)));
        Assert.Equal(0, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_UNSET_CONTAINER, 0));
        _kernel.Close(group);
    }

    [Fact]
    public void AMappingTooLargeForADirtyBitmap_IsEinval_UnderTrackingAndForStartingIt()
    {
        // vfio_dma_bitmap_alloc: more than INT_MAX pages (DIRTY_BITMAP_PAGES_MAX) is EINVAL. A map under
        // tracking is removed again (vfio_dma_do_map); START with such a mapping stays off.
        SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        ulong huge = (1UL << 31) * 4096;                                             // 2^31 pages: 8 TiB
        nint reserve = Abi.Runtime.Kernel.LinuxKernel.Instance.Mmap(0, (nuint)huge, 0, 0x22 | 0x4000, -1, 0);   // PROT_NONE, private anonymous, no reserve
        Assert.True(reserve > 0, $"mmap of 8 TiB answered {reserve}");
        try
        {
            _kernel.RegisterUserMemory(reserve, huge);
            var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = 1, vaddr = (ulong)reserve, iova = 1UL << 44, size = huge };
            Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
            Assert.Equal(-(int)Errno.EINVAL, _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map)));
            Assert.Equal(0ul, Unmap(1UL << 44, huge));                                 // removed again: nothing to unmap
            Assert.Equal(0, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP));

            Assert.Equal(0, _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map)));
            Assert.Equal(-(int)Errno.EINVAL, DirtyPages(Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_START));
            Assert.Equal(-(int)Errno.EINVAL, GetBitmap(1UL << 44, 4096));            // tracking stayed off
            Assert.Equal(huge, Unmap(1UL << 44, huge));
        }
        finally
        {
            Abi.Runtime.Kernel.LinuxKernel.Instance.Munmap(reserve, (nuint)huge);
        }
    }

    private void SetIommu(ulong type) => Assert.Equal(0, _kernel.Ioctl(_container, (uint)Constants.VFIO_SET_IOMMU, (nint)type));

    private int UnmapVaddr(ulong iova, ulong size, out ulong unmapped)
    {
        var unmap = new vfio_iommu_type1_dma_unmap { argsz = 24, flags = (uint)Constants.VFIO_DMA_UNMAP_FLAG_VADDR, iova = iova, size = size };
        int rc = _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)(&unmap));
        unmapped = unmap.size;
        return rc;
    }

    private int MapVaddr(ulong iova, ulong size)
    {
        var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = (uint)Constants.VFIO_DMA_MAP_FLAG_VADDR, vaddr = (ulong)_memory.Address, iova = iova, size = size };
        return _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map));
    }

    private int DirtyPages(ulong flag)
    {
        var dirty = new vfio_iommu_type1_dirty_bitmap { argsz = 8, flags = (uint)flag };
        return _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)(&dirty));
    }

    /// <summary>GET_BITMAP of [iova, iova + size) into _bits, which starts as the pattern.</summary>
    private int GetBitmap(ulong iova, ulong size)
    {
        _bits[0] = _bits[1] = Pattern;
        *(vfio_iommu_type1_dirty_bitmap*)_arg = new vfio_iommu_type1_dirty_bitmap { argsz = 48, flags = (uint)Constants.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP };
        *(vfio_iommu_type1_dirty_bitmap_get*)(_arg + 8) = new vfio_iommu_type1_dirty_bitmap_get { iova = iova, size = size, bitmap = new vfio_bitmap { pgsize = 4096, size = 16, data = _bits } };
        return _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)_arg);
    }

    private int Map(ulong iova, ulong size)
    {
        var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = 3, vaddr = (ulong)_memory.Address, iova = iova, size = size };
        return _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map));
    }

    private ulong Unmap(ulong iova, ulong size)
    {
        var unmap = new vfio_iommu_type1_dma_unmap { argsz = 24, iova = iova, size = size };
        Assert.Equal(0, _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)(&unmap)));
        return unmap.size;
    }

    private int UnmapWithBitmap(ulong iova, ulong size, ulong* data, out ulong unmapped)
    {
        var unmap = (vfio_iommu_type1_dma_unmap*)_arg;
        *unmap = new vfio_iommu_type1_dma_unmap { argsz = 48, flags = (uint)Constants.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, iova = iova, size = size };
        *(vfio_bitmap*)(_arg + 24) = new vfio_bitmap { pgsize = 4096, size = 16, data = data };
        int rc = _kernel.Ioctl(_container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)_arg);
        unmapped = unmap->size;
        return rc;
    }
}
