using Abi.Engine.Selftest;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using static Abi.Engine.Selftest.Uapi.Constants;
using iommu_test_cmd = Abi.Engine.Selftest.Uapi.iommu_test_cmd;

namespace Abi.Engine.Tests;

/// <summary>
/// Differences from the 7.2 kernel that the differential fuzzer (Conformance/Fuzz) found, each pinned
/// as the kernel behaves, with the kernel function it follows.
/// </summary>
public sealed unsafe class FuzzFindingsTests : MockIommuTest
{
    [Fact]
    public void AnAnswerThatCannotBeWritten_UndoesAllocationsOnly()
    {
        // main.c: iommufd_fops_ioctl aborts ucmd->new_obj, and the ALLOC ioctls abort their object after
        // a failed iommufd_ucmd_respond; selftest.c: MOCK_DOMAIN_REPLACE has no undo, so the automatic
        // domain it made on the new IOAS stays (fuzzer seed 2262).
        nint page = LinuxKernel.Instance.Mmap(0, 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, 0x02 | 0x20, -1, 0);
        Assert.True(page > 0);
        try
        {
            (_, uint stdev, _, _) = NewMockDevice();
            uint target = NewIoas();
            *(iommu_test_cmd*)page = new iommu_test_cmd { size = (uint)sizeof(iommu_test_cmd), op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, id = stdev, mock_domain_replace = new() { pt_id = target } };
            Assert.Equal(0, Mprotect(page, 4096, LinuxConstants.PROT_READ));
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, 0x3BA0, page));
            var destroy = new iommu_destroy { id = target };
            Assert.Equal(Errno.EBUSY, Raw.TryDestroy(ref destroy));               // the domain made on it stayed
            _ = NewIoas();                                                        // the old automatic domain's id, freed by the replace
            uint last = NewIoas();

            // An IOAS whose id cannot be written back is destroyed again: its id is the next one's.
            Assert.Equal(0, Mprotect(page, 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE));
            *(iommu_ioas_alloc*)page = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
            Assert.Equal(0, Mprotect(page, 4096, LinuxConstants.PROT_READ));
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl(Fd, (uint)Constants.IOMMU_IOAS_ALLOC, page));
            Assert.Equal(last + 1, NewIoas());                                    // the aborted IOAS had taken last + 1
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(page, 4096);
        }
    }

    /// <summary>
    /// <paramref name="count"/> anonymous read-write pages, with the engine told to learn the process's
    /// memory from /proc/self/maps as the interposer has it do; <paramref name="counter"/> is the
    /// mapping counter a test bumps after it unmaps (it lives as long as the process: the kernel keeps it).
    /// </summary>
    private nint DiscoveredPages(int count, out long* counter)
    {
        counter = (long*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(sizeof(long));
        Kernel.DiscoverUserMemory(counter);
        nint pages = LinuxKernel.Instance.Mmap(0, (nuint)(count * 4096), LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, 0x02 | 0x20, -1, 0);
        Assert.True(pages > 0);
        return pages;
    }

    /// <summary>A fresh IOAS with a selftest access on it (IOMMU_TEST_OP_CREATE_ACCESS): the IOAS id and the access fd.</summary>
    private (uint Ioas, int Access) NewIoasWithAccess()
    {
        uint ioas = NewIoas();
        var create = new iommu_test_cmd { op = IOMMU_TEST_OP_CREATE_ACCESS, id = ioas };
        Assert.Equal(0, Test(ref create));
        return (ioas, (int)create.create_access.out_access_fd);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mprotect")]
    private static extern int Mprotect(nint address, nuint length, int protection);

    [Fact]
    public void AnIoasForAPasidOrADetachedRid_IsAnsweredAfterItsAutomaticDomain()
    {
        // device.c: iommufd_device_change_pt sends an IOAS through iommufd_device_auto_get_domain. A
        // replace fills the new automatic domain from the IOAS before iommufd_device_do_replace finds
        // nothing to replace, so the IOAS's refusal answers first (fuzzer seed 50: EADDRINUSE); an
        // attach attaches the domain at once and is refused there (EINVAL, EBUSY when the PASID is
        // attached). selftest.c: MOCK_DOMAIN_REPLACE is iommufd_device_replace, which a detached
        // device fails (seed 139); the engine attached it.
        (uint ioas, uint stdev, _, uint device) = NewMockDevice(flags: 4);      // MOCK_FLAGS_DEVICE_PASID
        uint refusing = NewIoas();
        iommu_iova_range* range = stackalloc iommu_iova_range[1];
        range[0] = new iommu_iova_range { start = 0x1000, last = 0xFFFF };    // outside the mock's aperture
        var allow = new iommu_ioas_allow_iovas { ioas_id = refusing, num_iovas = 1, allowed_iovas = (ulong)range };
        Assert.Equal(Errno.None, Raw.TryIoasAllowIovas(ref allow));

        int Op(uint op, uint pasid, uint pt)
        {
            var cmd = new iommu_test_cmd { op = op, id = stdev, pasid_attach = new() { pasid = pasid, pt_id = pt } };
            return Test(ref cmd);
        }

        int ReplaceRid(uint pt)
        {
            var cmd = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, id = stdev, mock_domain_replace = new() { pt_id = pt } };
            return Test(ref cmd);
        }

        const uint Attach = IOMMU_TEST_OP_PASID_ATTACH, Replace = IOMMU_TEST_OP_PASID_REPLACE;
        Assert.Equal(-(int)Errno.EADDRINUSE, Op(Replace, 3, refusing));
        Assert.Equal(-(int)Errno.EINVAL, Op(Replace, 3, ioas));
        Assert.Equal(-(int)Errno.EINVAL, Op(Attach, 3, refusing));

        // A PASID attached already: an attach through an IOAS meets it (EBUSY), a replace is refused
        // the automatic domain (EINVAL), or the IOAS's refusal first.
        Assert.Equal(0, ReplaceRid(AllocCompatible()));
        uint compat = AllocCompatible();
        Assert.Equal(0, Op(Attach, 3, compat));
        Assert.Equal(-(int)Errno.EBUSY, Op(Attach, 3, ioas));
        Assert.Equal(-(int)Errno.EBUSY, Op(Attach, 3, refusing));
        Assert.Equal(-(int)Errno.EINVAL, Op(Replace, 3, ioas));
        Assert.Equal(-(int)Errno.EADDRINUSE, Op(Replace, 3, refusing));
        Assert.Equal(0, Op(IOMMU_TEST_OP_PASID_CHECK_HWPT, 3, compat));
        Assert.Equal(0, Op(IOMMU_TEST_OP_PASID_DETACH, 3, 0));

        // The RID detached (PASID 0), a replace of it is refused, after the object's lookup and the
        // IOAS's refusal, and leaves it detached.
        Assert.Equal(0, Op(IOMMU_TEST_OP_PASID_DETACH, 0, 0));
        Assert.Equal(-(int)Errno.ENOENT, ReplaceRid(999));
        Assert.Equal(-(int)Errno.EADDRINUSE, ReplaceRid(refusing));
        Assert.Equal(-(int)Errno.EINVAL, ReplaceRid(ioas));
        Assert.Equal(0, Op(IOMMU_TEST_OP_PASID_CHECK_HWPT, 0, 0));            // still on nothing

        uint AllocCompatible()
        {
            Assert.Equal(Errno.None, AllocHwpt(device, ioas, 8 /* IOMMU_HWPT_ALLOC_PASID */, out uint hwpt));
            return hwpt;
        }
    }

    [Fact]
    public void PasidCheck_OfAnObjectThatIsNoHwpt_IsEinval()
    {
        // selftest.c: iommufd_get_hwpt looks the id up as any object and refuses what is not a HWPT
        // (EINVAL); only a missing id is ENOENT (fuzzer seed 1 and 22 others).
        (uint ioas, uint stdev, _, _) = NewMockDevice(flags: 4);
        var check = new iommu_test_cmd { op = IOMMU_TEST_OP_PASID_CHECK_HWPT, id = stdev, pasid_check = new() { pasid = 1, hwpt_id = ioas } };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref check));
        check.pasid_check.hwpt_id = 999;
        Assert.Equal(-(int)Errno.ENOENT, Test(ref check));
    }

    [Fact]
    public void AMockDeviceWithoutPasids_TakesNoPasidPastZero()
    {
        // selftest.c: mock_dev_create gives every mock device a "pasid-num-bits" property, 0 without
        // MOCK_FLAGS_DEVICE_PASID, so iommu.c: dev_iommu_get_max_pasids gives it one PASID (2^0), and
        // iommu_attach_device_pasid refuses every PASID from 1 (fuzzer seed 386). A PCI function without
        // the capability has none and is skipped.
        (uint ioas, uint stdev, _, uint device) = NewMockDevice();
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 8 /* IOMMU_HWPT_ALLOC_PASID */, out uint compat));
        var replace = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, id = stdev, mock_domain_replace = new() { pt_id = compat } };
        Assert.Equal(0, Test(ref replace));
        var attach = new iommu_test_cmd { op = IOMMU_TEST_OP_PASID_ATTACH, id = stdev, pasid_attach = new() { pasid = 1, pt_id = compat } };
        Assert.Equal(-(int)Errno.EINVAL, Test(ref attach));
        var check = new iommu_test_cmd { op = IOMMU_TEST_OP_PASID_CHECK_HWPT, id = stdev, pasid_check = new() { pasid = 1, hwpt_id = 0 } };
        Assert.Equal(0, Test(ref check));                                          // nothing was attached
    }

    [Fact]
    public void HwptAlloc_ChecksItsFlagsBeforeTheDriverReadsTheData()
    {
        // hw_pagetable.c: iommufd_hwpt_paging_alloc refuses dirty tracking the device cannot do
        // (EOPNOTSUPP) before the driver's domain_alloc_paging_flags copies the user data, which
        // iommu_copy_struct_from_user refuses when it is longer than the driver's struct (EINVAL;
        // fuzzer seed 152).
        (uint ioas, _, _, uint device) = NewMockDevice(flags: 1);                 // MOCK_FLAGS_DEVICE_NO_DIRTY
        uint[] data = [0, 0, 0, 0];                                              // iotlb, pagetable_type, and 8 bytes more
        Assert.Equal(Errno.EOPNOTSUPP, AllocHwpt(device, ioas, 3 /* NEST_PARENT | DIRTY_TRACKING */, out _, 0xdead, data));
        Assert.Equal(Errno.EINVAL, AllocHwpt(device, ioas, 1 /* NEST_PARENT */, out _, 0xdead, data));
    }

    [Fact]
    public void DirtyBitmap_ReadsOnlyTheAreasThatFollowOnFromItsStart()
    {
        // io_pagetable.c: __iommu_read_and_clear_dirty walks iopt_for_each_contig_area from the area
        // holding iova and stops at the first hole; iommu_read_and_clear_dirty drops its -EINVAL. So a
        // range that starts in a hole reads nothing, and what lies after a hole stays dirty (fuzzer
        // seed 1046: the engine read every area in range).
        (uint ioas, _, _, uint device) = NewMockDevice();
        Assert.Equal(Errno.None, AllocHwpt(device, ioas, 2 /* DIRTY_TRACKING */, out uint hwpt));
        using var memory = DmaBuffer.Allocate(Kernel, 3 * 4096, preferHugePages: false);
        const ulong Base = 0x100_0000;
        foreach ((ulong offset, ulong iova) in new[] { (0UL, Base), (4096UL, Base + 4096), (8192UL, Base + (3 * 4096)) })
        {
            var map = Map(ioas, (ulong)memory.Address + offset, 4096, iova);       // pages 0, 1 and 3: a hole at 2
            Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        }

        var set = new iommu_hwpt_set_dirty_tracking { hwpt_id = hwpt, flags = 1 };
        Assert.Equal(Errno.None, Raw.TryHwptSetDirtyTracking(ref set));
        ulong inject = 0b1111_1111;                                                 // every 2 KiB granule of pages 0-3
        var dirty = new iommu_test_cmd { op = IOMMU_TEST_OP_DIRTY, id = hwpt, dirty = new() { iova = Base, length = 4 * 4096, page_size = 2048, uptr = (ulong)&inject } };
        Assert.Equal(0, Test(ref dirty));

        ulong Read(ulong iova, ulong pages)
        {
            ulong bits = 0;
            var get = new iommu_hwpt_get_dirty_bitmap { hwpt_id = hwpt, iova = iova, length = pages * 4096, page_size = 4096, data = (ulong)&bits };
            Assert.Equal(Errno.None, Raw.TryHwptGetDirtyBitmap(ref get));
            return bits;
        }

        Assert.Equal(0UL, Read(Base - 4096, 5));                                     // starts in a hole
        Assert.Equal(0b0011UL, Read(Base, 4));                                       // pages 0 and 1, not 3 after the hole
        Assert.Equal(0b1UL, Read(Base + (3 * 4096), 1));                             // page 3 was left dirty

        // io_pagetable.c: iopt_set_dirty_tracking clears the dirty bits on every enable, also when
        // tracking is on already (fuzzer seed 1184).
        Assert.Equal(0, Test(ref dirty));
        Assert.Equal(Errno.None, Raw.TryHwptSetDirtyTracking(ref set));
        Assert.Equal(0UL, Read(Base, 2));
    }

    [Fact]
    public void AllowedRangesOutsideTheMockAperture_RefuseTheDomain()
    {
        // io_pagetable.c: iopt_table_add_domain reserves what lies outside the aperture, which
        // iopt_reserve_iova refuses where an allowed range lies (EADDRINUSE), not only a mapping.
        uint ioas = NewIoas();
        iommu_iova_range* range = stackalloc iommu_iova_range[1];
        range[0] = new iommu_iova_range { start = 0x1000, last = 0xFFFF };
        var allow = new iommu_ioas_allow_iovas { ioas_id = ioas, num_iovas = 1, allowed_iovas = (ulong)range };
        Assert.Equal(Errno.None, Raw.TryIoasAllowIovas(ref allow));
        var mock = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN, id = ioas };
        Assert.Equal(-(int)Errno.EADDRINUSE, Test(ref mock));

        // Inside the aperture (MOCK_APERTURE_START = 1 << 24) the same domain joins.
        range[0] = new iommu_iova_range { start = 1 << 24, last = (1 << 25) - 1 };
        Assert.Equal(Errno.None, Raw.TryIoasAllowIovas(ref allow));
        Assert.Equal(0, Test(ref mock));
    }

    [Fact]
    public void AllowIovas_ChecksEveryRangeBeforeTheReservedOnes()
    {
        // ioas.c: iommufd_ioas_load_iovas runs over the whole list (EINVAL for an empty range) before
        // iopt_set_allow_iova looks at the reserved ranges (EADDRINUSE).
        uint ioas = NewIoas();
        var reserve = new iommu_test_cmd { op = IOMMU_TEST_OP_ADD_RESERVED, id = ioas, add_reserved = new() { start = 0x10000, length = 0x1000 } };
        Assert.Equal(0, Test(ref reserve));
        iommu_iova_range* ranges = stackalloc iommu_iova_range[2];
        ranges[0] = new iommu_iova_range { start = 0x10000, last = 0x10FFF };    // meets the reserved range
        ranges[1] = new iommu_iova_range { start = 0x30000, last = 0x30000 };    // empty
        var allow = new iommu_ioas_allow_iovas { ioas_id = ioas, num_iovas = 2, allowed_iovas = (ulong)ranges };
        Assert.Equal(Errno.EINVAL, Raw.TryIoasAllowIovas(ref allow));
        allow.num_iovas = 1;
        Assert.Equal(Errno.EADDRINUSE, Raw.TryIoasAllowIovas(ref allow));
    }

    [Fact]
    public void AMockDomainNamingItsOwnUnfinishedObject_IsEnoent()
    {
        // selftest.c: the selftest object is allocated (its id taken) but not finalized before the
        // attach, so a pt_id naming that id finds nothing.
        uint ioas = NewIoas();
        var destroy = new iommu_destroy { id = ioas };
        Assert.Equal(Errno.None, Raw.TryDestroy(ref destroy));
        var mock = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN, id = 1 };      // id 1 is free again: the selftest object takes it
        Assert.Equal(-(int)Errno.ENOENT, Test(ref mock));

        // Nothing stayed behind: the next object is 1 again.
        Assert.Equal(1u, NewIoas());
    }

    [Fact]
    public void HwInfo_OfAMockDevice_SaysAtsCannotBeUsed()
    {
        // device.c: iommufd_get_hw_info sets PCI_ATS_NOT_SUPPORTED unless the driver says otherwise,
        // and mock_domain_capable answers only CACHE_COHERENCY and DIRTY_TRACKING.
        (_, _, _, uint device) = NewMockDevice();
        var info = new iommu_hw_info { dev_id = device };
        Assert.Equal(Errno.None, Raw.TryGetHwInfo(ref info));
        Assert.Equal((ulong)(iommufd_hw_capabilities.IOMMU_HW_CAP_DIRTY_TRACKING | iommufd_hw_capabilities.IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED), info.out_capabilities);
    }

    [Fact]
    public void CompatGetInfo_PageSizesComeFromTheDomains()
    {
        // vfio_compat.c: iommufd_get_pagesizes: the AND of the domains' page sizes, rounded to a CPU page;
        // the mock's AMDv1 table takes 2 KiB to 64 GiB.
        (uint ioas, _, _, _) = NewMockDevice();
        var set = new iommu_vfio_ioas { ioas_id = ioas, op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_SET };
        Assert.Equal(Errno.None, Raw.TryVfioIoas(ref set));
        var info = new vfio_iommu_type1_info { argsz = (uint)sizeof(vfio_iommu_type1_info) };
        Assert.Equal(0, Kernel.Ioctl(Fd, Constants.VFIO_IOMMU_GET_INFO, (nint)(&info)));
        Assert.Equal(0x1F_FFFF_F000UL, info.iova_pgsizes);
    }

    [Fact]
    public void AccessOpsOnAFdThatIsNoAccess_AreEbadfd()
    {
        // selftest.c: iommufd_access_get answers EBADFD for a closed fd and for another file alike.
        var rw = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = 1000 };
        Assert.Equal(-(int)Errno.EBADFD, Test(ref rw));
        rw.id = (uint)Fd;
        Assert.Equal(-(int)Errno.EBADFD, Test(ref rw));
    }
    [Fact]
    public void AFileMappedWithMapFile_StaysOpenAfterItsFdIsClosed()
    {
        // pages.c: iopt_alloc_file_pages takes a reference on the file (get_file), so closing the fd
        // does not release it: a selftest access mapped this way lives on, holding its IOAS, until the
        // mapping goes.
        uint accessIoas = NewIoas();
        var create = new iommu_test_cmd { op = IOMMU_TEST_OP_CREATE_ACCESS, id = accessIoas };
        Assert.Equal(0, Test(ref create));
        int accessFd = (int)create.create_access.out_access_fd;
        uint ioas = NewIoas();
        var map = new iommu_ioas_map_file
        {
            flags = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE),
            ioas_id = ioas,
            fd = accessFd,
            start = 0,
            length = 4096,
        };
        Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref map));
        Assert.Equal(0, Kernel.Close(accessFd));
        Assert.Equal(Errno.EBUSY, Destroy(accessIoas));              // the access still holds it

        var unmap = new iommu_ioas_unmap { ioas_id = ioas, iova = 0, length = ulong.MaxValue };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));       // the last reference goes: the access with it
        Assert.Equal(Errno.None, Destroy(accessIoas));
    }

    [Fact]
    public void ANewDomain_IsRefusedByTheFirstAreaThatFails_InIovaOrder()
    {
        // io_pagetable.c: iopt_fill_domain pins, maps and charges area by area in IOVA order, so an area
        // with neither read nor write (the VFIO compat layer's) below one over memory nothing can pin
        // refuses the domain with EINVAL, not EFAULT (seed 5330 of a 500-call --vfio run); with the
        // order reversed, the unpinnable area answers first.
        foreach (bool unpinnableFirst in new[] { false, true })
        {
            uint ioas = NewIoas();
            var compat = new iommu_vfio_ioas { size = (uint)sizeof(iommu_vfio_ioas), ioas_id = ioas, op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_SET };
            Assert.Equal(0, Kernel.Ioctl(Fd, (uint)Constants.IOMMU_VFIO_IOAS, (nint)(&compat)));
            Assert.Equal(0, Kernel.Ioctl(Fd, (uint)Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_TYPE1v2_IOMMU));
            ulong noAccessIova = unpinnableFirst ? 0x120_0000UL : 0x110_0000UL, unpinnableIova = unpinnableFirst ? 0x110_0000UL : 0x120_0000UL;     // inside the mock aperture
            using (DmaBuffer memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false))
            {
                var neither = new vfio_iommu_type1_dma_map { argsz = 32, flags = 0, vaddr = (ulong)memory.Address, iova = noAccessIova, size = 4096 };
                Assert.Equal(0, Kernel.Ioctl(Fd, Constants.VFIO_IOMMU_MAP_DMA, (nint)(&neither)));
                var nowhere = new iommu_ioas_map
                {
                    flags = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA),
                    ioas_id = ioas,
                    user_va = 0x1000,                                                // nothing the engine knows: no domain pins it yet
                    length = 4096,
                    iova = unpinnableIova,
                };
                Assert.Equal(Errno.None, Raw.TryIoasMap(ref nowhere));

                var mock = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN, id = ioas };
                Assert.Equal(unpinnableFirst ? -(int)Errno.EFAULT : -(int)Errno.EINVAL, Test(ref mock));
                var all = new iommu_ioas_unmap { ioas_id = ioas, iova = 0, length = ulong.MaxValue };
                Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref all));
            }
        }
    }

    [Fact]
    public void AnAccess_ReadsReadOnlyMemory_ButCannotWriteIt()
    {
        // pages.c: iopt_pages_rw_access reads a mapping's user memory as the process may (a pin without
        // FOLL_WRITE for a read): an IOAS_MAP that asked for WRITEABLE over read-only memory maps (no
        // domain pins it), an access reads it, and a write through it is EFAULT (seed 2270, 300 calls:
        // 0 on the kernel, EFAULT on the engine, which asked for writable memory on every access).
        nint page = DiscoveredPages(2, out _);
        try
        {
            ((byte*)page)[4096 + 7] = 0x6B;
            Assert.Equal(0, Mprotect(page + 4096, 4096, LinuxConstants.PROT_READ));
            (uint ioas, int access) = NewIoasWithAccess();
            var map = new iommu_ioas_map
            {
                flags = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA),
                ioas_id = ioas,
                user_va = (ulong)page,
                length = 8192,
                iova = 0x10_0000,
            };
            Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

            byte* buffer = stackalloc byte[2];
            for (int round = 0; round < 2; round++)                              // the second from the IOTLB, if it cached the page
            {
                buffer[0] = 0;
                var read = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)access, access_rw = new() { iova = 0x10_1000 + 7, length = 1, uptr = (ulong)buffer } };
                Assert.Equal(0, Test(ref read));
                Assert.Equal(0x6B, buffer[0]);

                buffer[0] = 0xC3;
                var write = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)access, access_rw = new() { iova = 0x10_1000 + 7, length = 1, uptr = (ulong)buffer, flags = 1 } };
                Assert.Equal(-(int)Errno.EFAULT, Test(ref write));
                Assert.Equal(0x6B, ((byte*)page)[4096 + 7]);

                // The writable page before it takes the write.
                write.access_rw.iova = 0x10_0000 + 7;
                Assert.Equal(0, Test(ref write));
                Assert.Equal(0xC3, ((byte*)page)[7]);
            }

            Assert.Equal(0, Kernel.Close(access));
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(page, 8192);
        }
    }

    [Fact]
    public void ASlowPathRead_AcrossPages_PinsAWritableMappingForWriting()
    {
        // pages.c: iopt_pages_rw_access with __IOMMUFD_ACCESS_RW_SLOW_PATH reads one page through
        // iopt_pages_rw_page (FOLL_WRITE only for a write) and more through iopt_pages_rw_slow, whose
        // pfn reader pins with FOLL_WRITE when the mapping's pages are writable: read-only memory under
        // a WRITEABLE mapping is EFAULT there only (seed 20101, 2000 calls: EFAULT on the kernel, 0 on
        // the engine).
        nint pages = DiscoveredPages(3, out _);
        try
        {
            Assert.Equal(0, Mprotect(pages + 4096, 2 * 4096, LinuxConstants.PROT_READ));     // one writable page, two read-only
            (uint ioas, int access) = NewIoasWithAccess();
            const uint Read = (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE, Fixed = (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA;
            var writable = new iommu_ioas_map { flags = Read | Fixed | (uint)iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE, ioas_id = ioas, user_va = (ulong)pages, length = 3 * 4096, iova = 0x10_0000 };
            Assert.Equal(Errno.None, Raw.TryIoasMap(ref writable));
            var readOnly = new iommu_ioas_map { flags = Read | Fixed, ioas_id = ioas, user_va = (ulong)pages, length = 3 * 4096, iova = 0x20_0000 };
            Assert.Equal(Errno.None, Raw.TryIoasMap(ref readOnly));

            byte* buffer = stackalloc byte[2 * 4096];
            int ReadAt(ulong iova, ulong length, uint flags)
            {
                var read = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)access, access_rw = new() { iova = iova, length = length, uptr = (ulong)buffer, flags = flags } };
                return Test(ref read);
            }

            Assert.Equal(-(int)Errno.EFAULT, ReadAt(0x10_1000 + 0x10, 0x1400, MOCK_ACCESS_RW_SLOW_PATH));     // two read-only pages
            Assert.Equal(-(int)Errno.EFAULT, ReadAt(0x10_0F00, 0x200, MOCK_ACCESS_RW_SLOW_PATH));             // the writable page and a read-only one
            Assert.Equal(0, ReadAt(0x10_1000 + 0x10, 0x100, MOCK_ACCESS_RW_SLOW_PATH));                       // one page
            Assert.Equal(0, ReadAt(0x10_1000 + 0x10, 0x1400, 0));                                             // copy_from_user
            Assert.Equal(0, ReadAt(0x20_1000 + 0x10, 0x1400, MOCK_ACCESS_RW_SLOW_PATH));                      // a mapping without WRITEABLE pins for reading
            Assert.Equal(0, Kernel.Close(access));
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(pages, 3 * 4096);
        }
    }

    [Fact]
    public void AccessPages_ChecksUptr_ForARangeEndingAt2To64()
    {
        // selftest.c: iommufd_test_access_pages counts (ALIGN(iova + length) - ALIGN_DOWN(iova)) /
        // PAGE_SIZE pages in 64-bit arithmetic, so the top page of the IOVA space is one page, whose
        // uptr page is checked (seed 7855, 800 calls: EFAULT on the kernel; the engine's loop ran to
        // iova + length, which wrapped to 0, checked nothing and answered 0).
        nint pages = DiscoveredPages(3, out long* counter);
        try
        {
            // A page no one can read after two: PROT_NONE, not unmapped, so that no other thread's
            // mmap can land in the hole while the test runs (the kernel reuses a freed page first).
            Assert.Equal(0, Mprotect(pages + (2 * 4096), 4096, LinuxConstants.PROT_NONE));
            (*counter)++;
            uint ioas = NewIoas();
            var create = new iommu_test_cmd { op = IOMMU_TEST_OP_CREATE_ACCESS, id = ioas, create_access = new() { flags = 1 } };    // NEEDS_PIN_PAGES
            Assert.Equal(0, Test(ref create));
            int access = (int)create.create_access.out_access_fd;
            const ulong Top = 0xFFFF_FFFF_FFFF_F000;
            var map = new iommu_ioas_map
            {
                flags = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA),
                ioas_id = ioas,
                user_va = (ulong)pages,
                length = 4096,
                iova = Top,
            };
            Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

            var unmapped = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_PAGES, id = (uint)access, access_pages = new() { iova = Top, length = 4096, uptr = (ulong)pages + (2 * 4096) + 0x63 } };
            Assert.Equal(-(int)Errno.EFAULT, Test(ref unmapped));
            var another = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_PAGES, id = (uint)access, access_pages = new() { iova = Top, length = 4096, uptr = (ulong)pages + 4096 } };
            Assert.Equal(-(int)Errno.EBADE, Test(ref another));
            var same = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_PAGES, id = (uint)access, access_pages = new() { iova = Top, length = 4096, uptr = (ulong)pages } };
            Assert.Equal(0, Test(ref same));

            Assert.Equal(0, Kernel.Close(access));
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(pages, 3 * 4096);
        }
    }

    [Fact]
    public void AnAccess_ReadsAndWritesAShmemFilesPages_ThroughAMapFileArea()
    {
        // pages.c: iopt_pages_rw_access reaches a MAP_FILE area's folios (memfd_pin_folios), so an
        // access reads what the file holds and its writes land in the file; past the end the file had,
        // nothing is there (fuzzer: access_rw answered 0 on the kernel, EFAULT on the engine).
        int memfd = MemfdCreate("abi-map-file", 0);
        Assert.True(memfd >= 0);
        nint view = 0;
        try
        {
            Assert.Equal(0, Ftruncate(memfd, 8192));
            view = LinuxKernel.Instance.Mmap(0, 8192, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, memfd, 0);
            Assert.True(view > 0);
            ((byte*)view)[4096 + 10] = 0x5A;

            (uint ioas, int access) = NewIoasWithAccess();
            var map = new iommu_ioas_map_file
            {
                flags = (uint)(iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA),
                ioas_id = ioas,
                fd = memfd,
                start = 4096,
                length = 8192,                                     // one page past the file's end
                iova = 0x10_0000,
            };
            Assert.Equal(Errno.None, Raw.TryIoasMapFile(ref map));

            byte* buffer = stackalloc byte[4];
            var read = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)access, access_rw = new() { iova = 0x10_0000 + 9, length = 2, uptr = (ulong)buffer } };
            Assert.Equal(0, Test(ref read));
            Assert.Equal(0x5A, buffer[1]);

            buffer[0] = 0xC3;
            var write = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)access, access_rw = new() { iova = 0x10_0000 + 100, length = 1, uptr = (ulong)buffer, flags = 1 } };
            Assert.Equal(0, Test(ref write));
            Assert.Equal(0xC3, ((byte*)view)[4096 + 100]);

            var past = new iommu_test_cmd { op = IOMMU_TEST_OP_ACCESS_RW, id = (uint)access, access_rw = new() { iova = 0x10_1000, length = 1, uptr = (ulong)buffer } };
            Assert.NotEqual(0, Test(ref past));
            Assert.Equal(0, Kernel.Close(access));
        }
        finally
        {
            if (view > 0)
            {
                _ = LinuxKernel.Instance.Munmap(view, 8192);
            }

            _ = Close(memfd);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "memfd_create", SetLastError = true)]
    private static extern int MemfdCreate(string name, uint flags);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static extern int Ftruncate(int fd, long length);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}
