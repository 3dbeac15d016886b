using Abi.Engine.Selftest;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;

namespace Abi.Engine.Tests;

/// <summary>IOMMU_TEST_CMD (drivers/iommu/iommufd/selftest.c): off unless enabled; mock domains, reserved ranges, map and pin checks, access fds.</summary>
public sealed unsafe class SelftestCommandTests : MockIommuTest
{
    [Fact]
    public void Disabled_ByDefault_AsWithoutConfigIommufdTest()
    {
        IommufdSelftest.Disable(Kernel);
        var cmd = new IommuTestCmd { op = 1, id = NewIoas(), u64_16 = 0x1000, u64_24 = 0x1000 };
        Assert.Equal(-(int)Errno.ENOTTY, Test(ref cmd));
        IommufdSelftest.Enable(Kernel);
        Assert.Equal(0, Test(ref cmd));
        cmd.op = 99;
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Test(ref cmd));
    }

    [Fact]
    public void MockDomain_ImposesTheMockApertureAndPageSize_AndCheckMapAndRefsSeeThePins()
    {
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
        Assert.Equal(-(int)Errno.EBADFD, Test(ref notAccess));   // selftest.c: iommufd_access_get

        Assert.Equal(0, Kernel.Close(accessFd));
        Assert.Equal(1, Kernel.OpenFiles);
        var destroyIoas = new iommu_destroy { id = ioas };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroyIoas));                 // the access no longer holds it
    }

    /// <summary>Turns tracking on, injects dirty 2 KiB granules, and returns GET_DIRTY_BITMAP's 2 KiB bitmap of the range.</summary>
    private ulong[] InjectAndHarvestDirty(uint hwpt, ulong iova, ulong length, params int[] granules)
    {
        var set = new iommu_hwpt_set_dirty_tracking { hwpt_id = hwpt, flags = 1 };
        Assert.Equal(Errno.None, Raw.TryHwptSetDirtyTracking(ref set));
        ulong[] inject = new ulong[(length / 2048 + 63) / 64];
        foreach (int g in granules)
        {
            inject[g / 64] |= 1UL << (g % 64);
        }

        ulong[] harvested = new ulong[inject.Length];
        fixed (ulong* bits = inject)
        {
            var dirty = new IommuTestCmd { op = 13, id = hwpt, u64_24 = iova, u64_32 = length, u64_40 = 2048, u64_48 = (ulong)bits };
            Assert.Equal(0, Test(ref dirty));
            Assert.Equal((ulong)granules.Length, dirty.u64_56);                     // out_nr_dirty
        }

        fixed (ulong* bitmap = harvested)
        {
            var get = new iommu_hwpt_get_dirty_bitmap { hwpt_id = hwpt, iova = iova, length = length, page_size = 2048, data = (ulong)bitmap };
            Assert.Equal(Errno.None, Raw.TryHwptGetDirtyBitmap(ref get));
        }

        return harvested;
    }

    [Fact]
    public void MockDirtyBits_ArePerIopte_TwoKiBGranulesOrWholeHugeLeaves()
    {
        (uint ioas, _, _, uint device) = NewMockDevice();
        using var memory = DmaBuffer.Allocate(Kernel, 3 << 20, preferHugePages: false);
        ulong aligned = ((ulong)memory.Address + 0xFFFFF) & ~0xFFFFFUL;              // a 1 MiB-aligned source, 2 MiB of it
        var map = Map(ioas, aligned, 2 << 20, iova: 0x100_0000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        // The default mock table: a dirty 2 KiB item reports alone, not with the other half of its 4 KiB page.
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 2 /* DIRTY_TRACKING */, out uint small));
        ulong[] small2k = InjectAndHarvestDirty(small, 0x100_0000, 1 << 20, 0, 3);
        Assert.Equal(0b1001UL, small2k[0]);
        Assert.All(small2k[1..], word => Assert.Equal(0UL, word));

        // The huge mock table maps 1 MiB leaves: one dirty item dirties all 512 granules of its leaf.
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 2, out uint huge, 0xdead, [0, 1]));
        ulong[] harvested = InjectAndHarvestDirty(huge, 0x100_0000, 2 << 20, 5);
        Assert.All(harvested[..8], word => Assert.Equal(ulong.MaxValue, word));     // the first leaf: 512 bits
        Assert.All(harvested[8..], word => Assert.Equal(0UL, word));                 // the second leaf stayed clean

        // Type 2 does not exist; the data must be 4 to 8 bytes.
        Assert.Equal(Errno.EOPNOTSUPP, AllocHwpt(device, ioas, 0, out _, 0xdead, [0, 2]));
        Assert.Equal(Errno.EINVAL, AllocHwpt(device, ioas, 0, out _, 0xdead, [0, 0, 0]));
    }

    [Fact]
    public void PasidAttach_NeedsPasidCompatibleHwpts_ForThePasidAndForTheRid()
    {
        (uint ioas, uint stdev, _, uint device) = NewMockDevice(flags: 4);   // MOCK_FLAGS_DEVICE_PASID
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 8 /* PASID */, out uint compat));
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 0, out uint plain));

        int Pasid(uint op, uint pasid, uint pt)
        {
            var cmd = new IommuTestCmd { op = op, id = stdev, u32_16 = pasid, u32_20 = pt };
            return Test(ref cmd);
        }

        const uint Attach = 18, Replace = 19, Detach = 20, Check = 21;
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 100, compat));               // the RID is on an automatic (not compatible) domain
        var replaceRid = new IommuTestCmd { op = 10, id = stdev, u32_16 = compat };
        Assert.Equal(0, Test(ref replaceRid));
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 100, plain));                 // the PASID's HWPT is not compatible
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 100, ioas));                  // nor is an automatic domain
        Assert.Equal(0, Pasid(Attach, 100, compat));
        Assert.Equal(-(int)Errno.EBUSY, Pasid(Attach, 100, compat));                 // attach does not overwrite
        Assert.Equal(0, Pasid(Check, 100, compat));
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Replace, 200, compat));               // replace needs an attachment
        replaceRid.u32_16 = plain;
        Assert.Equal(-(int)Errno.EINVAL, Test(ref replaceRid));                      // the RID must stay compatible while a PASID is attached
        var destroy = new iommu_destroy { id = compat };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));

        // The mock fails every second change of PASID 1024, and the PASID keeps its domain.
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 8, out uint other));
        Assert.Equal(0, Pasid(Attach, 1024, compat));
        Assert.Equal(-(int)Errno.ENOMEM, Pasid(Replace, 1024, other));
        Assert.Equal(0, Pasid(Check, 1024, compat));
        Assert.Equal(0, Pasid(Replace, 1024, other));
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 1u << 20, compat));          // beyond the mock's 20 PASID bits

        Assert.Equal(0, Pasid(Detach, 100, 0));
        Assert.Equal(0, Pasid(Detach, 100, 0));                                     // detaching twice is silent
        Assert.Equal(0, Pasid(Check, 100, 0));
        Assert.Equal(0, Pasid(Detach, 1024, 0));
        Assert.Equal(0, Test(ref replaceRid));
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));
    }

    [Fact]
    public void DmaBuf_MapsInsideItsSize_AndNotWhileRevoked()
    {
        uint ioas = NewIoas();
        var get = new IommuTestCmd { op = 22, u32_16 = 3 * 4096 + 1 };              // rounded up to 4 pages
        int dmabuf = Test(ref get);
        Assert.True(dmabuf > 0, $"DMABUF_GET returned {dmabuf}");
        var tooBig = new IommuTestCmd { op = 22, u32_16 = 513 * 4096 };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref tooBig));

        iommu_ioas_map_file MapFile(ulong start, ulong length) => new() { flags = 6, ioas_id = ioas, fd = dmabuf, start = start, length = length };
        var past = MapFile(4096, 4 * 4096);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMapFile(ref past));
        var empty = MapFile(0, 0);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMapFile(ref empty));
        var whole = MapFile(0, 4 * 4096);
        Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref whole));

        var revoke = new IommuTestCmd { op = 23, u32_16 = (uint)dmabuf, u32_20 = 1 };
        Assert.Equal(0, Test(ref revoke));
        var again = MapFile(0, 4096);
        Assert.Equal(Errno.ENODEV, Raw.TryIoasMapFile(ref again));
        revoke.u32_20 = 0;
        Assert.Equal(0, Test(ref revoke));
        Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref again));

        var notDmaBuf = new IommuTestCmd { op = 23, u32_16 = (uint)Fd, u32_20 = 1 };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref notDmaBuf));
        Assert.Equal(0, Kernel.Close(dmabuf));
    }

    [Fact]
    public void NestedHwpt_OnANestingParentOrVIommu_HasAnIotlbThatInvalidateClears()
    {
        (uint ioas, uint stdev, _, uint device) = NewMockDevice();
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 1 /* NEST_PARENT */, out uint parent));
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 0, out uint notParent));
        uint[] data = [0xbadbeef];
        Assert.Equal(Errno.EINVAL, AllocHwpt(device, notParent, 0, out _, 0xdead, data));
        Assert.Equal(Errno.EOPNOTSUPP, AllocHwpt(device, parent, 1, out _, 0xdead, data));   // NEST_PARENT on a nested HWPT
        Assert.Equal(Errno.EOPNOTSUPP, AllocHwpt(device, parent, 0, out _, 0xdeae, data));
        Assert.Equal(Errno.None, AllocHwpt(device, parent, 0, out uint nested, 0xdead, data));
        Assert.Equal(Errno.EINVAL, AllocHwpt(device, nested, 0, out _, 0xdead, data));      // a nested HWPT is no parent

        int CheckIotlb(uint slot, uint value)
        {
            var cmd = new IommuTestCmd { op = 14, id = nested, u32_16 = slot, u32_20 = value };
            return Test(ref cmd);
        }

        Assert.Equal(0, CheckIotlb(3, 0xbadbeef));
        uint[] entries = [0, 1, 0xffffffff, 2];                                       // {flags, iotlb_id} x 2: the second is bad
        fixed (uint* e = entries)
        {
            var invalidate = new iommu_hwpt_invalidate { hwpt_id = nested, data_uptr = (ulong)e, data_type = 0xdeadbeef, entry_len = 8, entry_num = 2 };
            Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptInvalidate(ref invalidate));
            Assert.Equal(1u, invalidate.entry_num);                                     // the first was done
            invalidate.entry_len = 9;
            invalidate.entry_num = 1;
            Assert.Equal(Errno.EINVAL, Raw.TryHwptInvalidate(ref invalidate));         // the entry is exactly 8 bytes
            invalidate.hwpt_id = parent;
            invalidate.entry_len = 8;
            Assert.Equal(Errno.EINVAL, Raw.TryHwptInvalidate(ref invalidate));         // a paging HWPT has no such cache
        }

        Assert.Equal(0, CheckIotlb(1, 0));
        Assert.Equal(0, CheckIotlb(2, 0xbadbeef));

        var destroyParent = new iommu_destroy { id = parent };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroyParent));
        var replace = new IommuTestCmd { op = 10, id = stdev, u32_16 = nested };
        Assert.Equal(0, Test(ref replace));                                          // the device runs on the nested HWPT
        var destroyNested = new iommu_destroy { id = nested };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroyNested));

        var viommu = new iommu_viommu_alloc { dev_id = device, hwpt_id = notParent, type = 0xdeadbeef };
        Assert.Equal(Errno.EINVAL, Raw.TryViommuAlloc(ref viommu));
        viommu.hwpt_id = parent;
        Assert.Equal(Errno.None, Raw.TryViommuAlloc(ref viommu));
        Assert.Equal(Errno.None, AllocHwpt(device, viommu.out_viommu_id, 0, out uint onViommu, 0xdead, data));
        var destroyViommu = new iommu_destroy { id = viommu.out_viommu_id };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroyViommu));
        var destroyOnViommu = new iommu_destroy { id = onViommu };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroyOnViommu));
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroyViommu));
    }
}
