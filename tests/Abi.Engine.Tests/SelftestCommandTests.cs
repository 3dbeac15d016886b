using Abi.Engine.Selftest;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;
using static Abi.Engine.Selftest.Uapi.Constants;
using iommu_test_cmd = Abi.Engine.Selftest.Uapi.iommu_test_cmd;

namespace Abi.Engine.Tests;

/// <summary>IOMMU_TEST_CMD (drivers/iommu/iommufd/selftest.c): off unless enabled; mock domains, reserved ranges, map and pin checks, access fds.</summary>
public sealed unsafe class SelftestCommandTests : MockIommuTest
{
    [Fact]
    public void Disabled_ByDefault_AsWithoutConfigIommufdTest()
    {
        IommufdSelftest.Disable(Kernel);
        var cmd = new iommu_test_cmd { op = IOMMU_TEST_OP_ADD_RESERVED, id = NewIoas(), add_reserved = new() { start = 0x1000, length = 0x1000 } };
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

        var reserve = new iommu_test_cmd { op = IOMMU_TEST_OP_ADD_RESERVED, id = ioas, add_reserved = new() { start = 0x2000_0000, length = 0 } };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref reserve));                      // length 0

        var mock = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN, id = ioas };
        Assert.Equal(0, Test(ref mock));
        uint stdev = mock.mock_domain.out_stdev_id, hwpt = mock.mock_domain.out_hwpt_id, device = mock.mock_domain.out_idev_id;
        Assert.True(stdev < device && device < hwpt, $"ids {stdev} {device} {hwpt} in the kernel's order");

        var ranges = new iommu_ioas_iova_ranges { ioas_id = ioas };
        Assert.Equal(Errno.EMSGSIZE, Raw.TryIoasIovaRanges(ref ranges));          // no room: the count and alignment still come back
        Assert.Equal(2048ul, ranges.out_iova_alignment);                           // the mock's 2 KiB pages
        Assert.Equal(1u, ranges.num_iovas);                                        // [0x1000000, 0x7fffffff] only

        var outside = Map(ioas, (ulong)memory.Address, 4096, iova: 0x1000);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMap(ref outside));                   // below the aperture: reserved
        var map = Map(ioas, (ulong)memory.Address, 2 * 4096, iova: 0x100_0000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        var check = new iommu_test_cmd { op = IOMMU_TEST_OP_MD_CHECK_MAP, id = hwpt, check_map = new() { iova = 0x100_0000, length = 2 * 4096, uptr = (ulong)memory.Address } };
        Assert.Equal(0, Test(ref check));
        check.check_map.uptr += 4096;                                                      // the wrong pages
        Assert.Equal(-(int)Errno.EINVAL, Test(ref check));

        var refs = new iommu_test_cmd { op = IOMMU_TEST_OP_MD_CHECK_REFS, check_refs = new() { length = 2 * 4096, uptr = (ulong)memory.Address, refs = 1 } };
        Assert.Equal(0, Test(ref refs));                                           // pinned once for the domain
        int copy = Kernel.Dup(Fd);
        Assert.Equal(0, Test(ref refs));                                           // a dup of the context is the same file: still once
        Assert.Equal(0, Kernel.Close(copy));
        refs.check_refs.uptr += 2 * 4096;
        Assert.Equal(-(int)Errno.EIO, Test(ref refs));                             // the unmapped half is not pinned
        refs.check_refs.refs = 0;
        Assert.Equal(0, Test(ref refs));

        var destroyDevice = new iommu_destroy { id = device };
        Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroyDevice));
        var destroy = new iommu_destroy { id = stdev };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));                     // detaches, unbinds; the automatic HWPT goes too
        var destroyHwpt = new iommu_destroy { id = hwpt };
        Assert.Equal(Errno.ENOENT, Raw.TryDestroy(ref destroyHwpt));
        refs.check_refs.uptr = (ulong)memory.Address;
        Assert.Equal(0, Test(ref refs));                                           // no domain: nothing pinned
    }

    [Fact]
    public void AccessFd_PinsReadsAndWrites_AndClosingItDestroysTheAccess()
    {
        uint ioas = NewIoas();
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        var map = Map(ioas, (ulong)memory.Address, 2 * 4096, iova: 0x40_0000);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        var create = new iommu_test_cmd { op = IOMMU_TEST_OP_CREATE_ACCESS, id = ioas, create_access = new() { flags = 1 } };            // NEEDS_PIN_PAGES
        Assert.Equal(0, Test(ref create));
        int accessFd = (int)create.create_access.out_access_fd;
        Assert.Equal(2, Kernel.OpenFiles);                                         // the context and the access fd

        var pin = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_PAGES, id = (uint)accessFd, access_pages = new() { iova = 0x40_0000, length = 4096, uptr = (ulong)memory.Address } };
        Assert.Equal(0, Test(ref pin));
        var refs = new iommu_test_cmd { op = IOMMU_TEST_OP_MD_CHECK_REFS, check_refs = new() { length = 4096, uptr = (ulong)memory.Address, refs = 1 } };
        Assert.Equal(0, Test(ref refs));

        byte[] data = [9, 8, 7];
        fixed (byte* d = data)
        {
            var write = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)accessFd, access_rw = new() { iova = 0x40_0ffe, length = 3, uptr = (ulong)d, flags = 1 } };
            Assert.Equal(0, Test(ref write));
        }

        Assert.Equal(9, ((byte*)memory.Address)[0xffe]);
        Assert.Equal(7, ((byte*)memory.Address)[0x1000]);

        var destroyItem = new iommu_test_cmd { op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, id = (uint)accessFd, destroy_access_pages = new() { access_pages_id = 5 } };
        Assert.Equal(-(int)Errno.ENOENT, Test(ref destroyItem));
        destroyItem.destroy_access_pages.access_pages_id = pin.access_pages.out_access_pages_id;
        Assert.Equal(0, Test(ref destroyItem));
        refs.check_refs.refs = 0;
        Assert.Equal(0, Test(ref refs));

        var notAccess = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)Fd, access_rw = new() { iova = 0x40_0000, length = 1, uptr = (ulong)memory.Address } };
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
            var dirty = new iommu_test_cmd { op = IOMMU_TEST_OP_DIRTY, id = hwpt, dirty = new() { iova = iova, length = length, page_size = 2048, uptr = (ulong)bits } };
            Assert.Equal(0, Test(ref dirty));
            Assert.Equal((ulong)granules.Length, dirty.dirty.out_nr_dirty);                     // out_nr_dirty
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
            // The four PASID ops share one layout: {pasid, then the pt or hwpt id}.
            var cmd = new iommu_test_cmd { op = op, id = stdev, pasid_attach = new() { pasid = pasid, pt_id = pt } };
            return Test(ref cmd);
        }

        const uint Attach = IOMMU_TEST_OP_PASID_ATTACH, Replace = IOMMU_TEST_OP_PASID_REPLACE, Detach = IOMMU_TEST_OP_PASID_DETACH, Check = IOMMU_TEST_OP_PASID_CHECK_HWPT;
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 100, compat));               // the RID is on an automatic (not compatible) domain
        var replaceRid = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, id = stdev, mock_domain_replace = new() { pt_id = compat } };
        Assert.Equal(0, Test(ref replaceRid));
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 100, plain));                 // the PASID's HWPT is not compatible
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Attach, 100, ioas));                  // nor is an automatic domain
        Assert.Equal(0, Pasid(Attach, 100, compat));
        Assert.Equal(-(int)Errno.EBUSY, Pasid(Attach, 100, compat));                 // attach does not overwrite
        Assert.Equal(0, Pasid(Check, 100, compat));
        Assert.Equal(-(int)Errno.EINVAL, Pasid(Replace, 200, compat));               // replace needs an attachment
        replaceRid.mock_domain_replace.pt_id = plain;
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
        var get = new iommu_test_cmd { op = IOMMU_TEST_OP_DMABUF_GET, dmabuf_get = new() { length = 3 * 4096 + 1 } };              // rounded up to 4 pages
        int dmabuf = Test(ref get);
        Assert.True(dmabuf > 0, $"DMABUF_GET returned {dmabuf}");
        var tooBig = new iommu_test_cmd { op = IOMMU_TEST_OP_DMABUF_GET, dmabuf_get = new() { length = 513 * 4096 } };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref tooBig));

        iommu_ioas_map_file MapFile(ulong start, ulong length) => new() { flags = 6, ioas_id = ioas, fd = dmabuf, start = start, length = length };
        var past = MapFile(4096, 4 * 4096);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMapFile(ref past));
        var empty = MapFile(0, 0);
        Assert.Equal(Errno.EINVAL, Raw.TryIoasMapFile(ref empty));
        var whole = MapFile(0, 4 * 4096);
        Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref whole));

        // io_pagetable.c: iopt_area_split never splits a dma-buf's area (EOPNOTSUPP, before its alignment
        // check), so the compat layer's TYPE1 hole punching into one is refused and nothing is unmapped.
        var compat = new iommu_vfio_ioas { ioas_id = ioas, op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_SET };
        Assert.Equal(Errno.None, Raw.TryVfioIoas(ref compat));
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_TYPE1_IOMMU));
        var punch = new vfio_iommu_type1_dma_unmap { argsz = 24, iova = whole.iova + 4096, size = 4096 };
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Kernel.Ioctl(Fd, Constants.VFIO_IOMMU_UNMAP_DMA, (nint)(&punch)));
        var all = new iommu_ioas_unmap { ioas_id = ioas, iova = whole.iova, length = 4 * 4096 };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref all));
        Assert.Equal(4ul * 4096, all.length);                                           // whole, as mapped
        Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref whole));

        var revoke = new iommu_test_cmd { op = IOMMU_TEST_OP_DMABUF_REVOKE, dmabuf_revoke = new() { dmabuf_fd = dmabuf, revoked = 1 } };
        Assert.Equal(0, Test(ref revoke));
        var again = MapFile(0, 4096);
        Assert.Equal(Errno.ENODEV, Raw.TryIoasMapFile(ref again));
        revoke.dmabuf_revoke.revoked = 0;
        Assert.Equal(0, Test(ref revoke));
        Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref again));

        var notDmaBuf = new iommu_test_cmd { op = IOMMU_TEST_OP_DMABUF_REVOKE, dmabuf_revoke = new() { dmabuf_fd = Fd, revoked = 1 } };
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
            var cmd = new iommu_test_cmd { op = IOMMU_TEST_OP_MD_CHECK_IOTLB, id = nested, check_iotlb = new() { id = slot, iotlb = value } };
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
        var replace = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, id = stdev, mock_domain_replace = new() { pt_id = nested } };
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
