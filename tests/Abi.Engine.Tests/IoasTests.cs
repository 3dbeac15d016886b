using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>IOAS ioctls: the success paths and every errno of drivers/iommu/iommufd/ioas.c.</summary>
public sealed unsafe class IoasTests : EngineTest
{
    private const ulong Page = 4096;

    [Fact]
    public void Ids_AreLowestFreeFromOne_AndReused()
    {
        Assert.Equal(1u, NewIoas());
        Assert.Equal(2u, NewIoas());
        Assert.Equal(3u, NewIoas());
        Iommufd.Destroy(2);
        Assert.Equal(2u, NewIoas());
        Assert.Equal(4u, NewIoas());
    }

    [Fact]
    public void Alloc_RejectsFlags()
    {
        var alloc = new iommu_ioas_alloc { flags = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryIoasAlloc(ref alloc));
    }

    [Fact]
    public void Destroy_UnknownIsEnoent()
    {
        var destroy = new iommu_destroy { id = 42 };
        Assert.Equal(Errno.ENOENT, Raw.TryDestroy(ref destroy));
    }

    [Fact]
    public void Map_Fixed_ThenUnmap_ReportsTheLength()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 64 * 1024, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        Assert.Equal(0x100000ul, ioas.Map(memory, 0x100000));
        Assert.Equal(64ul * 1024, ioas.Unmap(0x100000, 64 * 1024));
    }

    [Theory]
    [InlineData(0x8u, 0u, 0ul, 4096ul, Errno.EOPNOTSUPP)]          // unknown flag
    [InlineData(0x6u, 1u, 0ul, 4096ul, Errno.EOPNOTSUPP)]          // __reserved
    [InlineData(0x7u, 0u, ulong.MaxValue, 4096ul, Errno.EOVERFLOW)] // iova == U64_MAX
    [InlineData(0x7u, 0u, 0x1000ul, ulong.MaxValue, Errno.EOVERFLOW)]
    [InlineData(0x1u, 0u, 0x1000ul, 4096ul, Errno.EINVAL)]         // neither READABLE nor WRITEABLE
    [InlineData(0x7u, 0u, 0x1000ul, 0ul, Errno.EINVAL)]            // length 0
    public void Map_ArgumentErrors(uint flags, uint reserved, ulong iova, ulong length, Errno expected)
    {
        uint ioas = NewIoas();
        var map = new iommu_ioas_map { flags = flags, ioas_id = ioas, __reserved = reserved, user_va = 0x10000, length = length, iova = iova };
        Assert.Equal(expected, Raw.TryIoasMap(ref map));
        Assert.Equal(1ul, IovaRangeCount(ioas));
    }

    [Fact]
    public void Map_OrderOfChecks_OverflowBeforeLookup_LookupBeforeVaOverflow()
    {
        var map = Map(ioas: 99, va: 0x1000, length: ulong.MaxValue);
        Assert.Equal(Errno.EOVERFLOW, Raw.TryIoasMap(ref map));
        map = Map(ioas: 99, va: ulong.MaxValue - 10, length: 4096, iova: 0x1000);
        Assert.Equal(Errno.ENOENT, Raw.TryIoasMap(ref map));
        uint ioas = NewIoas();
        map = Map(ioas, va: ulong.MaxValue - 10, length: 4096, iova: 0x1000);
        Assert.Equal(Errno.EOVERFLOW, Raw.TryIoasMap(ref map));
    }

    [Fact]
    public void Map_Overlap_IsEexist_AndStateIsUnchanged()
    {
        uint ioas = NewIoas();
        var map = Map(ioas, 0x10000, 2 * Page, 0x200000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        var overlap = Map(ioas, 0x40000, 2 * Page, 0x201000);
        Assert.Equal(Errno.EEXIST, Raw.TryIoasMap(ref overlap));
        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0, length = ulong.MaxValue };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));
        Assert.Equal(2 * Page, unmap.length);
    }

    [Fact]
    public void Map_WithoutADomain_AcceptsAnyVirtualAddress()
    {
        // Nothing is pinned until a domain exists (iopt_map_pages pins only for a domain), so a bogus VA maps.
        uint ioas = NewIoas();
        var map = Map(ioas, 0x80000000, Page, 0, fixedIova: false);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
    }

    [Fact]
    public void AutomaticIova_IsTheLowestAlignedHole_NeverZero_AndKeepsTheSubPageOffset()
    {
        uint ioas = NewIoas();
        var a = Map(ioas, 0x10000, Page, 0, fixedIova: false);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref a));
        Assert.Equal(Page, a.iova);                                 // [PAGE_SIZE, ...): 0 is never returned

        var b = Map(ioas, 0x200000, 2 * 1024 * 1024, 0, fixedIova: false);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref b));
        Assert.Equal(0x200000ul, b.iova);                           // 2 MiB aligned: min(pow2(len), addr alignment, THP)

        var c = Map(ioas, 0x30010, 0x100, 0, fixedIova: false);    // sub-page source offset 0x10
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref c));
        Assert.Equal(0x10ul, c.iova % Page);
        Assert.Equal(0ul, (c.iova & ~(Page - 1)) % 0x10);
    }

    [Fact]
    public void AutomaticIova_StaysInsideAllowedRanges_OrFailsWithEnospc()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.AllowIovas([new IovaRange(0x1000000, 0x1001FFF)]);
        var map = Map(ioas.Id, 0x10000, Page, 0, fixedIova: false);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        Assert.Equal(0x1000000ul, map.iova);
        map = Map(ioas.Id, 0x20000, 4 * Page, 0, fixedIova: false);
        Assert.Equal(Errno.ENOSPC, Raw.TryIoasMap(ref map));
    }

    [Fact]
    public void Unmap_NeverSplits_PartialCoverIsEnoent()
    {
        uint ioas = NewIoas();
        var map = Map(ioas, 0x10000, 2 * Page, 0x100000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0x100000, length = Page };
        Assert.Equal(Errno.ENOENT, Raw.TryIoasUnmap(ref unmap));
        unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0x101000, length = Page };
        Assert.Equal(Errno.ENOENT, Raw.TryIoasUnmap(ref unmap));
        unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0x100000, length = 2 * Page };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));
        Assert.Equal(2 * Page, unmap.length);
    }

    [Fact]
    public void Unmap_ARangeWithHoles_ReturnsTheSumOfWholeAreas()
    {
        uint ioas = NewIoas();
        foreach (ulong iova in new ulong[] { 0x100000, 0x104000, 0x110000 })
        {
            var map = Map(ioas, 0x10000, Page, iova);
            Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        }

        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0x100000, length = 0x20000 };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));
        Assert.Equal(3 * Page, unmap.length);
        unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0x100000, length = 0x20000 };
        Assert.Equal(Errno.ENOENT, Raw.TryIoasUnmap(ref unmap));        // nothing left
        unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0, length = ulong.MaxValue };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));          // unmap-all of an empty IOAS
        Assert.Equal(0ul, unmap.length);
    }

    [Theory]
    [InlineData(ulong.MaxValue, 4096ul, Errno.EOVERFLOW)]
    [InlineData(0x1000ul, 0ul, Errno.EINVAL)]
    [InlineData(0xFFFFFFFFFFFFF000ul, 0x2000ul, Errno.EOVERFLOW)]
    public void Unmap_ArgumentErrors(ulong iova, ulong length, Errno expected)
    {
        uint ioas = NewIoas();
        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = iova, length = length };
        Assert.Equal(expected, Raw.TryIoasUnmap(ref unmap));
        unmap = new iommu_ioas_unmap { ioas_id = 77, iova = iova, length = length };
        Assert.Equal(Errno.ENOENT, Raw.TryIoasUnmap(ref unmap));    // the id is checked first
    }

    [Fact]
    public void Copy_SharesTheSourcePages_AndChecksCoverage()
    {
        uint src = NewIoas();
        uint dst = NewIoas();
        var map = Map(src, 0x10000, 4 * Page, 0x100000, access: 4);   // read-only
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        var copy = new iommu_ioas_copy { flags = 4 | 1, dst_ioas_id = dst, src_ioas_id = src, length = 2 * Page, dst_iova = 0x500000, src_iova = 0x101000 };
        Assert.Equal(Errno.None, Raw.TryIoasCopy(ref copy));
        copy = new iommu_ioas_copy { flags = 2 | 1, dst_ioas_id = dst, src_ioas_id = src, length = Page, dst_iova = 0x600000, src_iova = 0x100000 };
        Assert.Equal(Errno.EPERM, Raw.TryIoasCopy(ref copy));          // writeable from read-only pages
        copy = new iommu_ioas_copy { flags = 4 | 1, dst_ioas_id = dst, src_ioas_id = src, length = 8 * Page, dst_iova = 0x600000, src_iova = 0x100000 };
        Assert.Equal(Errno.ENOENT, Raw.TryIoasCopy(ref copy));         // runs past the source mapping
        copy = new iommu_ioas_copy { flags = 4 | 1, dst_ioas_id = 50, src_ioas_id = src, length = Page, dst_iova = 0x600000, src_iova = 0x100000 };
        Assert.Equal(Errno.ENOENT, Raw.TryIoasCopy(ref copy));
        copy = new iommu_ioas_copy { flags = 4, dst_ioas_id = dst, src_ioas_id = src, length = Page, src_iova = 0x100000 };
        Assert.Equal(Errno.None, Raw.TryIoasCopy(ref copy));
        Assert.NotEqual(0ul, copy.dst_iova);
    }

    [Fact]
    public void Copy_AcrossSeveralSourceAreas_MakesOneAreaPerPiece_AndTheyUnmapAsOne()
    {
        uint src = NewIoas();
        uint dst = NewIoas();
        var a = Map(src, 0x10000, 2 * Page, 0x100000);
        var b = Map(src, 0x80000, 2 * Page, 0x102000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref a));
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref b));
        var copy = new iommu_ioas_copy { flags = 7, dst_ioas_id = dst, src_ioas_id = src, length = 2 * Page, dst_iova = 0x700000, src_iova = 0x101000 };
        Assert.Equal(Errno.None, Raw.TryIoasCopy(ref copy));

        var part = new iommu_ioas_unmap { ioas_id = dst, iova = 0x700000, length = Page };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref part));        // the first piece is an area of its own
        Assert.Equal(Page, part.length);
        var all = new iommu_ioas_unmap { ioas_id = dst, iova = 0, length = ulong.MaxValue };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref all));
        Assert.Equal(Page, all.length);
    }

    [Fact]
    public void IovaRanges_WritesWhatFits_ThenEmsgsize()
    {
        uint ioas = NewIoas();
        var ranges = new iommu_ioas_iova_ranges { ioas_id = ioas, num_iovas = 0 };
        Assert.Equal(Errno.EMSGSIZE, Raw.TryIoasIovaRanges(ref ranges));
        Assert.Equal(1u, ranges.num_iovas);
        Assert.Equal(1ul, ranges.out_iova_alignment);

        iommu_iova_range one;
        ranges = new iommu_ioas_iova_ranges { ioas_id = ioas, num_iovas = 1, allowed_iovas = (ulong)(&one) };
        Assert.Equal(Errno.None, Raw.TryIoasIovaRanges(ref ranges));
        Assert.Equal((0ul, ulong.MaxValue), (one.start, one.last));
        ranges.__reserved = 1;
        Assert.Equal(Errno.EOPNOTSUPP, Raw.TryIoasIovaRanges(ref ranges));
    }

    [Fact]
    public void NestedPointersToBadMemory_AreEfault_NotACrash()
    {
        uint ioas = NewIoas();
        var allow = new iommu_ioas_allow_iovas { ioas_id = ioas, num_iovas = 1, allowed_iovas = 0x10 };
        Assert.Equal(Errno.EFAULT, Raw.TryIoasAllowIovas(ref allow));
        var ranges = new iommu_ioas_iova_ranges { ioas_id = ioas, num_iovas = 1, allowed_iovas = 0x18 };
        Assert.Equal(Errno.EFAULT, Raw.TryIoasIovaRanges(ref ranges));
        ranges = new iommu_ioas_iova_ranges { ioas_id = ioas, num_iovas = 0, allowed_iovas = 0x18 };
        Assert.Equal(Errno.EMSGSIZE, Raw.TryIoasIovaRanges(ref ranges));    // nothing to write: only the count
    }

    [Fact]
    public void AllowIovas_RejectsBadLists_AndClearsWithAnEmptyOne()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        Assert.Equal(Errno.EINVAL, TryAllow(ioas.Id, [new iommu_iova_range { start = 0x1000, last = 0x1000 }]));
        Assert.Equal(Errno.EINVAL, TryAllow(ioas.Id, [new iommu_iova_range { start = 0x1000, last = 0x2FFF }, new iommu_iova_range { start = 0x2000, last = 0x3FFF }]));
        Assert.Equal(Errno.None, TryAllow(ioas.Id, [new iommu_iova_range { start = 0x100000, last = 0x1FFFFF }]));
        Assert.Equal(Errno.None, TryAllow(ioas.Id, []));
        var map = Map(ioas.Id, 0x10000, Page, 0, fixedIova: false);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        Assert.Equal(Page, map.iova);
    }

    [Fact]
    public void Options_HugePagesPerIoas_AndRlimitModeIsContextWide()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        Assert.Equal(1ul, Iommufd.GetOption(iommufd_option.IOMMU_OPTION_HUGE_PAGES, ioas.Id));
        Iommufd.SetOption(iommufd_option.IOMMU_OPTION_HUGE_PAGES, 0, ioas.Id);
        Assert.Equal(0ul, Iommufd.GetOption(iommufd_option.IOMMU_OPTION_HUGE_PAGES, ioas.Id));
        Assert.Equal(Page, ioas.GetIovaRanges().Alignment);
        var map = Map(ioas.Id, 0x10000, 0x800, 0x100000);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMap(ref map));            // length below the page alignment

        IoctlException e = Assert.Throws<IoctlException>(() => Iommufd.GetOption(iommufd_option.IOMMU_OPTION_HUGE_PAGES, 0));
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Equal(0ul, Iommufd.GetOption(iommufd_option.IOMMU_OPTION_RLIMIT_MODE));
        Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<IoctlException>(() => Iommufd.GetOption(iommufd_option.IOMMU_OPTION_RLIMIT_MODE, 1)).Errno);
        Assert.Equal(Errno.EOPNOTSUPP, Assert.Throws<IoctlException>(() => Iommufd.GetOption((iommufd_option)7)).Errno);
    }

    [Fact]
    public void Errors_CarryTheEnginesReason()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        Assert.Equal(0x1001ul, ioas.Map((nint)0x10000, Page, 0x1001));   // alignment 1 without a domain
        IoctlException e = Assert.Throws<IoctlException>(() => ioas.Map((nint)0x20000, Page, 0x1000));
        Assert.Equal(Errno.EEXIST, e.Errno);
        Assert.Equal("IOMMU_IOAS_MAP on iommufd failed: EEXIST (17): [0x1000, 0x1FFF] overlaps an existing mapping", e.Message);
    }

    [Fact]
    public void IoctlsInSteadyState_AllocateNothing()
    {
        uint ioas = NewIoas();
        var map = Map(ioas, 0x10000, Page, 0x100000);
        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0x100000, length = Page };
        var option = new iommu_option { option_id = (uint)iommufd_option.IOMMU_OPTION_HUGE_PAGES, op = 1, object_id = ioas };
        iommu_iova_range range;
        var ranges = new iommu_ioas_iova_ranges { ioas_id = ioas, num_iovas = 1, allowed_iovas = (ulong)(&range) };
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(Errno.None, Cycle());
        }

        // Windows of 10,000 cycles: an allocation per call shows in every one. What happens once
        // (the JIT's tier-up, which on a loaded machine can land after the warm-up) shows in one.
        var windows = new List<long>();
        Errno failures = Errno.None;
        for (int window = 0; window < 5 && (windows.Count == 0 || windows[^1] != 0); window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                failures |= Cycle();
            }

            windows.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(Errno.None, failures);
        Assert.True(windows[^1] == 0, $"bytes allocated per window of 10,000 cycles: {string.Join(", ", windows)}");

        Errno Cycle()
        {
            map.iova = 0x100000;
            unmap.length = Page;
            ranges.num_iovas = 1;
            return Raw.TryIoasMap(ref map) | Raw.TryOption(ref option) | Raw.TryIoasIovaRanges(ref ranges) | Raw.TryIoasUnmap(ref unmap);
        }
    }

    private ulong IovaRangeCount(uint ioas)
    {
        var ranges = new iommu_ioas_iova_ranges { ioas_id = ioas };
        _ = Raw.TryIoasIovaRanges(ref ranges);
        return ranges.num_iovas;
    }

    private Errno TryAllow(uint ioas, iommu_iova_range[] ranges)
    {
        fixed (iommu_iova_range* p = ranges)
        {
            var allow = new iommu_ioas_allow_iovas { ioas_id = ioas, num_iovas = (uint)ranges.Length, allowed_iovas = ranges.Length == 0 ? 0 : (ulong)p };
            return Raw.TryIoasAllowIovas(ref allow);
        }
    }
}
