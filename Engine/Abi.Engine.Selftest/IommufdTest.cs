using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Engine.Selftest.Uapi;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;
using static Abi.Engine.Selftest.Uapi.Constants;

namespace Abi.Engine.Selftest;

/// <summary>
/// IOMMU_TEST_CMD (<c>drivers/iommu/iommufd/selftest.c</c>, <c>iommufd_test()</c>, under
/// CONFIG_IOMMUFD_TEST): mock devices behind a mock IOMMU, reserved ranges, access objects driven
/// from user space, and checks of what a domain maps and how often a page is pinned. Only answered
/// once <see cref="IommufdSelftest.Enable"/> ran. Unknown ops answer EOPNOTSUPP, as the kernel does.
/// </summary>
internal static unsafe class IommufdTest
{
    // The kernel refuses larger buffers up front (it would have to allocate them).
    private const ulong SelftestMaxLength = 16UL << 20;

    internal static int TestCommand(IommufdFile f, byte* arg, ref IommufdFile.IoctlCall call)
    {
        ref iommu_test_cmd cmd = ref *(iommu_test_cmd*)arg;

        // selftest.c: the ops that end with iommufd_ucmd_respond; the others write nothing back.
        call.Respond = cmd.op is IOMMU_TEST_OP_MOCK_DOMAIN or IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS or IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE or IOMMU_TEST_OP_CREATE_ACCESS or IOMMU_TEST_OP_ACCESS_PAGES or IOMMU_TEST_OP_DIRTY or IOMMU_TEST_OP_PASID_ATTACH or IOMMU_TEST_OP_PASID_REPLACE;
        return cmd.op switch
        {
            IOMMU_TEST_OP_ADD_RESERVED => AddReserved(f, cmd.id, cmd.add_reserved.start, cmd.add_reserved.length),
            IOMMU_TEST_OP_MOCK_DOMAIN or IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS => MockDomain(f, ref cmd, ref call),
            IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE => MockDomainReplace(f, ref cmd),
            IOMMU_TEST_OP_MD_CHECK_MAP => CheckMap(f, cmd.id, cmd.check_map.iova, cmd.check_map.length, cmd.check_map.uptr),
            IOMMU_TEST_OP_MD_CHECK_REFS => CheckRefs(f, cmd.check_refs.uptr, cmd.check_refs.length, cmd.check_refs.refs),
            IOMMU_TEST_OP_CREATE_ACCESS => CreateTestAccess(f, ref cmd, ref call),
            IOMMU_TEST_OP_DESTROY_ACCESS_PAGES => f.Kernel.FileOf((int)cmd.id) is SelftestAccessFile a ? a.DestroyItem(cmd.destroy_access_pages.access_pages_id) : NotAccess(cmd.id),
            IOMMU_TEST_OP_ACCESS_PAGES => AccessPages(f, ref cmd, ref call),
            IOMMU_TEST_OP_ACCESS_RW => AccessRw(f, ref cmd),
            IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT => cmd.memory_limit.limit < sizeof(ulong) + sizeof(uint) ? Fail(Errno.EINVAL, "the batch memory limit must hold one element (12 bytes)") : 0,
            IOMMU_TEST_OP_ACCESS_REPLACE_IOAS => f.Kernel.FileOf((int)cmd.id) is SelftestAccessFile a ? a.Access.Attach(cmd.access_replace_ioas.ioas_id) : NotAccess(cmd.id),
            IOMMU_TEST_OP_DIRTY => InjectDirty(f, ref cmd),
            IOMMU_TEST_OP_DEV_CHECK_CACHE => CheckDeviceCache(f, cmd.id, cmd.check_dev_cache.id, cmd.check_dev_cache.cache),
            IOMMU_TEST_OP_MD_CHECK_IOTLB => CheckIotlb(f, cmd.id, cmd.check_iotlb.id, cmd.check_iotlb.iotlb),
            IOMMU_TEST_OP_TRIGGER_IOPF => TriggerIopf(f, ref cmd),
            IOMMU_TEST_OP_TRIGGER_VEVENT => TriggerVevent(f, cmd.trigger_vevent.dev_id),
            IOMMU_TEST_OP_PASID_ATTACH or IOMMU_TEST_OP_PASID_REPLACE => MockDevice(f, cmd.id) is DeviceObject d ? AttachMockPasid(f, d, ref cmd, ref call) : NotMockDevice(cmd.id),
            IOMMU_TEST_OP_PASID_DETACH => MockDevice(f, cmd.id) is DeviceObject d ? DetachMockPasid(f, d, cmd.pasid_detach.pasid) : NotMockDevice(cmd.id),
            IOMMU_TEST_OP_DMABUF_GET => GetDmaBuf(f, cmd.dmabuf_get.length, cmd.dmabuf_get.open_flags),
            IOMMU_TEST_OP_DMABUF_REVOKE => RevokeDmaBuf(f, (int)cmd.dmabuf_revoke.dmabuf_fd, cmd.dmabuf_revoke.revoked != 0),
            IOMMU_TEST_OP_PASID_CHECK_HWPT => MockDevice(f, cmd.id) is DeviceObject d ? CheckPasidHwpt(f, d, cmd.pasid_check.pasid, cmd.pasid_check.hwpt_id) : NotMockDevice(cmd.id),
            _ => Fail(Errno.EOPNOTSUPP, $"IOMMU_TEST_CMD op {cmd.op} is not modelled by the engine"),
        };
    }

    private static int AddReserved(IommufdFile f, uint ioasId, ulong start, ulong length)
    {
        if (length == 0)
        {
            return Fail(Errno.EINVAL, "length is zero");
        }

        if (start + (length - 1) < start)
        {
            return Fail(Errno.EOVERFLOW, "start + length wraps");
        }

        if (f.Objects.Get<IoasObject>(ioasId, ObjectKind.Ioas) is not IoasObject ioas)
        {
            return Fail(Errno.ENOENT, $"{ioasId} is not an IOAS");
        }

        ulong last = start + (length - 1);
        if (!ioas.Iopt.CanReserve(start, last))
        {
            return Fail(Errno.EADDRINUSE, $"[0x{start:X}, 0x{last:X}] is mapped or allowed in IOAS {ioasId}");
        }

        ioas.Iopt.AddReserved(new ReservedRange(start, last, SelftestObject.ReservedOwner));
        return 0;
    }

    private static int MockDomain(IommufdFile f, ref iommu_test_cmd cmd, ref IommufdFile.IoctlCall call)
    {
        uint flags = cmd.op == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS ? cmd.mock_domain_flags.dev_flags : 0;
        if ((flags & ~(MockIommu.NoDirty | MockIommu.PasidCapable)) != 0)
        {
            return Fail(Errno.EINVAL, $"unknown mock device flags 0x{flags:X}");
        }

        // selftest.c: iommufd_test_mock_domain. The selftest object takes its id first but stays invisible
        // until the end (iommufd_object_alloc, finalized only on success); the device binds (visible), then
        // attaches: ids in the kernel's order, and a pt_id naming the unfinished object is ENOENT.
        var selftest = new SelftestObject(f);
        uint stdevId = f.Objects.Reserve();
        var device = new DeviceObject(null, new MockIommu(flags));
        uint deviceId = f.Objects.Add(device);
        uint ptId = cmd.id;
        int rc = f.Attach(device, ref ptId);
        if (rc < 0)
        {
            string? reason = EngineDiagnostics.LastReason;
            f.Objects.Remove(deviceId);
            f.Objects.Release(stdevId);
            return Fail((Errno)(-rc), reason ?? "attach failed");
        }

        f.Objects.Replace(stdevId, selftest);
        selftest.Device = device;
        call.NewObject = selftest;          // out_detach: an answer that cannot be written undoes it all
        cmd.mock_domain.out_stdev_id = stdevId;
        cmd.mock_domain.out_hwpt_id = ptId;
        cmd.mock_domain.out_idev_id = deviceId;
        return 0;
    }

    private static int MockDomainReplace(IommufdFile f, ref iommu_test_cmd cmd)
    {
        if (f.Objects.Get<SelftestObject>(cmd.id, ObjectKind.Selftest) is not { Device: DeviceObject device })
        {
            return Fail(Errno.ENOENT, $"{cmd.id} is not a mock device");
        }

        // selftest.c: iommufd_test_mock_domain_replace calls iommufd_device_replace, which needs an attachment.
        uint ptId = cmd.mock_domain_replace.pt_id;
        int rc = f.Attach(device, ref ptId, replaceOnly: true);
        if (rc == 0)
        {
            cmd.mock_domain_replace.pt_id = ptId;
        }

        return rc;
    }

    /// <summary>Every MOCK_PAGE_SIZE step of [iova, iova + length) must translate to the page behind the same step of uptr.</summary>
    private static int CheckMap(IommufdFile f, uint hwptId, ulong iova, ulong length, ulong uptr)
    {
        if (f.Objects.Get<HwptPagingObject>(hwptId, ObjectKind.HwptPaging) is not HwptPagingObject hwpt)
        {
            return Fail(Errno.ENOENT, $"{hwptId} is not a paging HWPT");
        }

        if (hwpt.Iommu is not MockIommu)
        {
            return Fail(Errno.EINVAL, $"HWPT {hwptId} is not a mock domain");
        }

        ulong step = hwpt.Iommu.MinPageSize;
        if (iova % step != 0 || length % step != 0 || uptr % step != 0 || uptr + length < uptr)
        {
            return Fail(Errno.EINVAL, $"iova, length and uptr must be multiples of the mock page (0x{step:X})");
        }

        ProcessMaps maps = ProcessMaps.Read();
        for (ulong done = 0; done < length; done += step)
        {
            if (!f.Kernel.Memory.Contains((uptr + done) & ~(ulong)(LinuxConstants.PageSize - 1), LinuxConstants.PageSize))
            {
                return Fail(Errno.EFAULT, $"uptr 0x{uptr + done:X} is not mapped");
            }

            ulong at = iova + done;
            if (!hwpt.Ioas.Iopt.TryGetArea(at, out Area area))
            {
                return Fail(Errno.EINVAL, $"0x{at:X} is not mapped in HWPT {hwptId}");
            }

            if (!SamePage(area.Pages, area.SourceOf(at), uptr + done, maps))
            {
                return Fail(Errno.EINVAL, $"0x{at:X} does not translate to the page of uptr 0x{uptr + done:X}");
            }
        }

        return 0;
    }

    /// <summary>
    /// Whether the byte at <paramref name="source"/> of <paramref name="pages"/> is the byte at user
    /// address <paramref name="address"/>: the same address, or the same offset of the same file
    /// (a shared mapping seen at another address, or MAP_FILE pages).
    /// </summary>
    private static bool SamePage(Pages pages, ulong source, ulong address, ProcessMaps maps)
    {
        if (pages.FileDescriptor is null && source == address)
        {
            return true;
        }

        (ulong Device, ulong Inode, ulong Offset)? theirs = pages.FileDescriptor is int fd
            ? FileStat.Of(fd) is (ulong device, ulong inode, _) ? (device, inode, source) : null
            : maps.Backing(source);
        return theirs is not null && theirs == maps.Backing(address);
    }


    /// <summary>Every page of [uptr, uptr + length) must be pinned exactly <paramref name="refs"/> times (by all contexts of the process).</summary>
    private static int CheckRefs(IommufdFile f, ulong uptr, ulong length, uint refs)
    {
        const ulong Page = LinuxConstants.PageSize;
        if (length % Page != 0 || uptr % Page != 0 || uptr + length < uptr)
        {
            return Fail(Errno.EINVAL, "uptr and length must be page aligned");
        }

        if (length == 0)
        {
            return 0;
        }

        if (!f.Kernel.Memory.Contains(uptr, length))
        {
            return Fail(Errno.EFAULT, $"[0x{uptr:X}, +0x{length:X}) is not mapped");
        }

        int[] counts = PinCounts(f.Kernel, uptr, (int)(length / Page));
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] != refs)
            {
                return Fail(Errno.EIO, $"page 0x{uptr + ((ulong)i * Page):X} is pinned {counts[i]} times, not {refs}");
            }
        }

        return 0;
    }

    /// <summary>
    /// How many pages objects pin each page from <paramref name="uptr"/> on. A pages object pins a
    /// page once, whether for its domains or its accesses; two objects over the same memory pin it
    /// twice. MAP_FILE pins count at every user page that maps the same page of the same file.
    /// </summary>
    private static int[] PinCounts(EmulatedKernel kernel, ulong uptr, int pageCount)
    {
        const ulong Page = LinuxConstants.PageSize;
        var counts = new int[pageCount];
        var marks = new bool[pageCount];
        ulong windowLast = uptr + ((ulong)pageCount * Page) - 1;
        (ulong Device, ulong Inode, ulong Offset)?[]? backing = null;

        // Marks the window pages behind [first, last] of the pages object's source: user addresses, or offsets of its file.
        void Mark(Pages pages, ulong first, ulong last)
        {
            if (pages.FileDescriptor is null)
            {
                if (last < uptr || first > windowLast)
                {
                    return;
                }

                ulong from = Math.Max(first, uptr), end = Math.Min(last, windowLast);
                for (ulong p = (from - uptr) / Page; p <= (end - uptr) / Page; p++)
                {
                    marks[p] = true;
                }

                return;
            }

            if (pages.FileIdentity is not (ulong device, ulong inode))
            {
                return;
            }

            if (backing is null)
            {
                ProcessMaps maps = ProcessMaps.Read();
                backing = new (ulong, ulong, ulong)?[pageCount];
                for (int i = 0; i < pageCount; i++)
                {
                    backing[i] = maps.Backing(uptr + ((ulong)i * Page));
                }
            }

            for (int i = 0; i < pageCount; i++)
            {
                if (backing[i] is (ulong d, ulong n, ulong offset) && d == device && n == inode && offset / Page >= first / Page && offset / Page <= last / Page)
                {
                    marks[i] = true;
                }
            }
        }

        foreach (IommufdFile context in kernel.OpenEngineFiles().OfType<IommufdFile>())
        {
            using (context.EnterExclusive())
            {
                var pinned = new Dictionary<Pages, List<(ulong First, ulong Last)>>(ReferenceEqualityComparer.Instance);
                foreach (IommufdObject value in context.Objects.All())
                {
                    if (value is AccessObject { Ioas: IoasObject accessIoas } access)
                    {
                        foreach ((ulong iova, ulong last) in access.Pins)
                        {
                            foreach (Area area in accessIoas.Iopt.Areas)
                            {
                                if (area.Iova <= last && iova <= area.Last && area.Pages.DmaBuf is null)
                                {
                                    (ulong from, ulong to) = (area.SourceOf(Math.Max(iova, area.Iova)), area.SourceOf(Math.Min(last, area.Last)));
                                    (pinned.TryGetValue(area.Pages, out var list) ? list : pinned[area.Pages] = []).Add((from, to));
                                }
                            }
                        }
                    }

                    if (value is IoasObject ioas)
                    {
                        foreach (Area area in ioas.Iopt.Areas)
                        {
                            if (area.Pages.DomainAreas > 0 && area.Pages.DmaBuf is null)
                            {
                                ulong source = area.Pages.SourceAddress;
                                (pinned.TryGetValue(area.Pages, out var list) ? list : pinned[area.Pages] = []).Add((source, source + area.Pages.Length - 1));
                            }
                        }
                    }
                }

                foreach ((Pages pages, List<(ulong First, ulong Last)> ranges) in pinned)
                {
                    Array.Clear(marks);
                    foreach ((ulong first, ulong last) in ranges)
                    {
                        Mark(pages, first, last);
                    }

                    for (int i = 0; i < pageCount; i++)
                    {
                        counts[i] += marks[i] ? 1 : 0;
                    }
                }
            }
        }

        return counts;
    }

    private static int CheckDeviceCache(IommufdFile f, uint deviceId, uint slot, uint expected)
    {
        if (f.Objects.Get(deviceId) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{deviceId} is not a device");
        }

        return device.DriverState is MockDeviceState state && slot < MockDeviceState.CacheSlots && state.CacheAt((int)slot) == expected
            ? 0
            : Fail(Errno.EINVAL, $"cache slot {slot} of device {deviceId} does not hold 0x{expected:X}");
    }

    private static int CreateTestAccess(IommufdFile f, ref iommu_test_cmd cmd, ref IommufdFile.IoctlCall call)
    {
        uint flags = cmd.create_access.flags;
        if ((flags & ~MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown access flags 0x{flags:X}");
        }

        if (f.Kernel.Faults.ShouldFail("access.alloc"))
        {
            return Fail(Errno.ENOMEM, "injected failure: access.alloc");
        }

        var file = new SelftestAccessFile(f, (flags & MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES) != 0);
        int rc = file.Access.Attach(cmd.id);
        if (rc < 0)
        {
            string? reason = EngineDiagnostics.LastReason;
            file.Release();
            return Fail((Errno)(-rc), reason ?? "attach failed");
        }

        int fd = f.Kernel.AddFile(file);
        if (fd < 0)
        {
            file.Release();
            return Fail((Errno)(-fd), "no descriptor for the access");
        }

        // out_destroy: an answer that cannot be written destroys the access, and the fd is never installed.
        cmd.create_access.out_access_fd = (uint)fd;
        call.NewFd = fd;
        return 0;
    }

    private static int AccessPages(IommufdFile f, ref iommu_test_cmd cmd, ref IommufdFile.IoctlCall call)
    {
        uint flags = cmd.access_pages.flags;
        ulong iova = cmd.access_pages.iova, length = cmd.access_pages.length, uptr = cmd.access_pages.uptr;
        if (length > SelftestMaxLength)
        {
            return Fail(Errno.ENOMEM, "length is over 16 MiB");
        }

        if ((flags & ~(MOCK_FLAGS_ACCESS_WRITE | MOCK_FLAGS_ACCESS_SYZ)) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown flags 0x{flags:X}");
        }

        if (f.Kernel.FileOf((int)cmd.id) is not SelftestAccessFile file)
        {
            return NotAccess(cmd.id);
        }

        if (!file.NeedsPinPages)
        {
            return Fail(Errno.EOPNOTSUPP, "the access was created without NEEDS_PIN_PAGES");
        }

        int rc = file.Access.Pin(iova, length, (flags & MOCK_FLAGS_ACCESS_WRITE) != 0);
        if (rc < 0)
        {
            return rc;
        }

        // The pinned pages must be the pages behind uptr (NULL skips the check, for fuzzers).
        if (uptr != 0)
        {
            const ulong PageSize = LinuxConstants.PageSize;
            const ulong PageMask = ~(PageSize - 1);
            ProcessMaps maps = ProcessMaps.Read();
            IoasObject ioas = file.Access.Ioas!;

            // selftest.c counts the pages as (ALIGN(iova + length) - ALIGN_DOWN(iova)) / PAGE_SIZE in
            // 64-bit arithmetic (a range ending at 2^64 wraps to 0 and still counts), and walks uptr
            // from uptr - (iova - ALIGN_DOWN(iova)), a page at a time.
            ulong first = iova & PageMask;
            ulong count = (((iova + length + PageSize - 1) & PageMask) - first) / PageSize;
            ulong user = uptr - (iova - first);
            for (ulong i = 0; i < count; i++, user += PageSize)
            {
                // iommufd_test_check_pages: get_user_pages_fast of each uptr page (EFAULT when it
                // cannot), then the page must be the one pinned (EBADE).
                ulong at = i == 0 ? iova : first + (i * PageSize);
                ulong userPage = user & PageMask;
                if (!f.Kernel.Memory.ContainsPinnable(userPage, LinuxConstants.PageSize, write: false))
                {
                    file.Access.Unpin(iova, length);
                    return Fail(Errno.EFAULT, $"uptr page 0x{userPage:X} is not mapped");
                }

                // Pin succeeded, so every page of the range is mapped.
                ioas.Iopt.TryGetArea(at, out Area area);
                if (!SamePage(area.Pages, area.SourceOf(at) & PageMask, userPage, maps))
                {
                    file.Access.Unpin(iova, length);
                    return Fail(Errno.EBADE, $"the page pinned at IOVA 0x{at:X} is not the page of uptr");
                }
            }
        }

        // out_free_item: an answer that cannot be written frees the item and unpins; the item id stays
        // used (staccess->next_id is not rolled back).
        uint item = file.AddItem(iova, length);
        cmd.access_pages.out_access_pages_id = item;
        call.Undo = () => file.DestroyItem(item);
        return 0;
    }

    /// <summary>
    /// selftest.c: iommufd_test_pasid_attach / _replace. An attach whose answer cannot be written is
    /// detached again; a replace keeps its effect.
    /// </summary>
    private static int AttachMockPasid(IommufdFile f, DeviceObject device, ref iommu_test_cmd cmd, ref IommufdFile.IoctlCall call)
    {
        bool replace = cmd.op == IOMMU_TEST_OP_PASID_REPLACE;
        uint pasid = cmd.pasid_attach.pasid;
        int rc = f.AttachPasid(device, pasid, ref cmd.pasid_attach.pt_id, replace);
        if (rc == 0 && !replace)
        {
            call.Undo = () => DetachMockPasid(f, device, pasid);
        }

        return rc;
    }

    private static int AccessRw(IommufdFile f, ref iommu_test_cmd cmd)
    {
        ulong iova = cmd.access_rw.iova, length = cmd.access_rw.length, uptr = cmd.access_rw.uptr;
        uint flags = cmd.access_rw.flags;
        if (length > SelftestMaxLength)
        {
            return Fail(Errno.ENOMEM, "length is over 16 MiB");
        }

        if ((flags & ~(MOCK_ACCESS_RW_WRITE | MOCK_ACCESS_RW_SLOW_PATH | MOCK_FLAGS_ACCESS_SYZ)) != 0)
        {
            return Fail(Errno.EOPNOTSUPP, $"unknown flags 0x{flags:X}");
        }

        if (f.Kernel.FileOf((int)cmd.id) is not SelftestAccessFile file)
        {
            return NotAccess(cmd.id);
        }

        bool write = (flags & MOCK_ACCESS_RW_WRITE) != 0;
        byte[] buffer = new byte[length];
        if (write && !UserAccess.TryRead(uptr, buffer))
        {
            return Fail(Errno.EFAULT, $"uptr 0x{uptr:X} cannot be read");
        }

        // The access's own lock order is the context's; Rw takes the IOAS's DMA locks inside.
        int rc = file.Access.Rw(iova, buffer, write, slowPath: (flags & MOCK_ACCESS_RW_SLOW_PATH) != 0);
        if (rc < 0)
        {
            return rc;
        }

        return !write && !UserAccess.TryWrite(uptr, buffer) ? Fail(Errno.EFAULT, $"uptr 0x{uptr:X} cannot be written") : 0;
    }

    private static int InjectDirty(IommufdFile f, ref iommu_test_cmd cmd)
    {
        ulong iova = cmd.dirty.iova, length = cmd.dirty.length, pageSize = cmd.dirty.page_size, uptr = cmd.dirty.uptr;
        if (pageSize == 0 || length == 0 || iova % pageSize != 0 || length % pageSize != 0 || uptr == 0)
        {
            return Fail(Errno.EINVAL, "page_size, length and uptr must be non-zero, iova and length multiples of page_size");
        }

        ulong bits = length / pageSize;
        if (bits > (16UL << 20) * 8)
        {
            return Fail(Errno.EOVERFLOW, "the bitmap would be over 16 MiB");
        }

        if (f.Objects.Get<HwptPagingObject>(cmd.id, ObjectKind.HwptPaging) is not HwptPagingObject hwpt)
        {
            return Fail(Errno.ENOENT, $"{cmd.id} is not a paging HWPT");
        }

        if (hwpt.Iommu is not MockIommu)
        {
            return Fail(Errno.EINVAL, $"HWPT {cmd.id} is not a mock domain");
        }

        if (!hwpt.Tracking)
        {
            return Fail(Errno.EINVAL, $"HWPT {cmd.id} is not tracking dirty pages");
        }

        byte[] bitmap = new byte[(bits + 7) / 8];
        if (!UserAccess.TryRead(uptr, bitmap))
        {
            return Fail(Errno.EFAULT, $"the bitmap at 0x{uptr:X} cannot be read");
        }

        ulong count = 0;
        for (ulong i = 0; i < bits; i++)
        {
            if ((bitmap[i / 8] & (1 << (int)(i % 8))) != 0)
            {
                // The mock marks the IOPTE that maps the address: only mapped IOVA can become dirty.
                ulong at = iova + (i * pageSize);
                if (hwpt.Ioas.Iopt.TryGetArea(at, out Area area))
                {
                    (ulong start, ulong size) = hwpt.IopteAt(at, area);
                    hwpt.Dirty.Mark(start, size);
                }

                count++;
            }
        }

        cmd.dirty.out_nr_dirty = count;
        return 0;
    }

    // The selftest exporter's limit: 512 pages.
    private const ulong DmaBufMaxLength = 512 * LinuxConstants.PageSize;

    /// <summary>DMABUF_GET: a new dma-buf of <paramref name="length"/> bytes rounded up to pages, opened with <paramref name="openFlags"/> (its access mode and close-on-exec); the ioctl returns its fd.</summary>
    private static int GetDmaBuf(IommufdFile f, uint length, uint openFlags)
    {
        const ulong Page = LinuxConstants.PageSize;
        ulong size = ((ulong)length + Page - 1) & ~(Page - 1);
        if (size == 0 || size > DmaBufMaxLength)
        {
            return Fail(Errno.EINVAL, $"a test dma-buf holds 1 to 512 pages; {length} bytes asked");
        }

        var buffer = new SelftestDmaBuf(size) { AccessMode = (int)openFlags & LinuxConstants.O_ACCMODE };
        int fd = f.Kernel.AddFile(buffer, closeOnExec: (openFlags & LinuxConstants.O_CLOEXEC) != 0);
        return fd < 0 ? Fail((Errno)(-fd), "no descriptor for the dma-buf") : fd;
    }

    /// <summary>DMABUF_REVOKE: revoking or restoring takes what is mapped of the buffer out of every domain (the areas stay); restored, it can be mapped again.</summary>
    private static int RevokeDmaBuf(IommufdFile f, int fd, bool revoked)
    {
        if (f.Kernel.FileOf(fd) is not SelftestDmaBuf buffer)
        {
            return f.Kernel.FileOf(fd) is DmaBufFile ? Fail(Errno.EOPNOTSUPP, $"fd {fd} is another exporter's dma-buf")
                : f.Kernel.IsOpenFile(fd) ? Fail(Errno.EINVAL, $"fd {fd} is not a dma-buf") : Fail(Errno.EBADF, $"fd {fd} is not open");
        }

        // iommufd_test_dmabuf_revoke invalidates the importers' mappings either way.
        buffer.Revoked = revoked;
        buffer.InvalidateMappings();
        return 0;
    }

    /// <summary>MD_CHECK_IOTLB: slot <paramref name="slot"/> of a nested mock HWPT holds <paramref name="expected"/>.</summary>
    private static int CheckIotlb(IommufdFile f, uint hwptId, uint slot, uint expected)
    {
        if (f.Objects.Get<HwptNestedObject>(hwptId, ObjectKind.HwptNested) is not HwptNestedObject nested)
        {
            return Fail(Errno.ENOENT, $"{hwptId} is not a nested HWPT");
        }

        return nested.DriverState is MockNestedDomain domain && slot < MockNestedDomain.IotlbSlots && domain.IotlbAt((int)slot) == expected
            ? 0
            : Fail(Errno.EINVAL, $"IOTLB slot {slot} of HWPT {hwptId} does not hold 0x{expected:X}");
    }

    /// <summary>
    /// TRIGGER_IOPF: the mock device raises a page request (last page of its group). It goes to the
    /// fault queue of what the PASID is attached to; the mock keeps PASID tables in the user's
    /// stage 1, so an unattached PASID falls back to the RID's HWPT when that is nested. Without a
    /// fault queue the request is answered by the core and nothing is queued.
    /// </summary>
    private static int TriggerIopf(IommufdFile f, ref iommu_test_cmd cmd)
    {
        uint deviceId = cmd.trigger_iopf.dev_id, pasid = cmd.trigger_iopf.pasid;
        if (f.Objects.Get(deviceId) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{deviceId} is not a device");
        }

        if (device.Iommu is not MockIommu)
        {
            return Fail(Errno.EINVAL, $"device {deviceId} is not a mock device");
        }

        // find_fault_handler: the PASID's attach handle; for an unattached PASID the RID's, only when it
        // is a nested domain (the user's stage 1 holds the PASID table). Otherwise nobody handles it.
        HwptObject? onPasid = pasid == IommufdFile.NoPasid ? null : device.PasidHwpt(pasid);
        HwptObject? target = pasid == IommufdFile.NoPasid ? device.Hwpt
            : onPasid ?? (device.Hwpt is HwptNestedObject nested ? nested : null);
        uint handlePasid = onPasid is null ? IommufdFile.NoPasid : pasid;
        var fault = new iommu_hwpt_pgfault
        {
            flags = (uint)iommu_hwpt_pgfault_flags.IOMMU_PGFAULT_FLAGS_LAST_PAGE
                | (pasid != IommufdFile.NoPasid ? (uint)iommu_hwpt_pgfault_flags.IOMMU_PGFAULT_FLAGS_PASID_VALID : 0),
            dev_id = deviceId,
            pasid = pasid,
            grpid = cmd.trigger_iopf.grpid,
            perm = cmd.trigger_iopf.perm,
            addr = cmd.trigger_iopf.addr,
        };
        target?.Fault?.Report(fault, handlePasid);
        return 0;
    }

    /// <summary>
    /// TRIGGER_VEVENT: the mock device reports an event (its virtual ID) to the vIOMMU it noted at
    /// its last attach; ENOENT if it noted none (or virtual ID 0), EOPNOTSUPP if that vIOMMU has no
    /// vEVENTQ of the selftest type.
    /// </summary>
    private static int TriggerVevent(IommufdFile f, uint deviceId)
    {
        if (f.Objects.Get(deviceId) is not DeviceObject device)
        {
            return Fail(Errno.ENOENT, $"{deviceId} is not a device");
        }

        if (device.DriverState is not MockDeviceState state)
        {
            return Fail(Errno.EINVAL, $"device {deviceId} is not a mock device");
        }

        if (state.Viommu is not (ViommuObject viommu, ulong virtId) || virtId == 0)
        {
            return Fail(Errno.ENOENT, $"device {deviceId} is not attached to a nested HWPT of a vIOMMU where it has a virtual ID");
        }

        if (viommu.Veventq(MockIommu.VeventTypeSelftest) is not VeventqObject queue)
        {
            return Fail(Errno.EOPNOTSUPP, $"vIOMMU {viommu.Id} has no vEVENTQ of the selftest type (0xbeefbeef)");
        }

        // iommu_viommu_event_selftest: the device's virtual ID, 32 bits.
        queue.Report(BitConverter.GetBytes((uint)virtId));
        return 0;
    }

    private static DeviceObject? MockDevice(IommufdFile f, uint stdevId) => f.Objects.Get<SelftestObject>(stdevId, ObjectKind.Selftest)?.Device;

    private static int NotMockDevice(uint id) => Fail(Errno.ENOENT, $"{id} is not a mock device");

    private static int DetachMockPasid(IommufdFile f, DeviceObject device, uint pasid)
    {
        f.DetachPasid(device, pasid);
        return 0;
    }

    /// <summary>PASID_CHECK_HWPT: the PASID is on <paramref name="hwptId"/>, or with 0, on nothing.</summary>
    private static int CheckPasidHwpt(IommufdFile f, DeviceObject device, uint pasid, uint hwptId)
    {
        HwptObject? attached = f.PasidHwpt(device, pasid);
        if (hwptId == 0)
        {
            return attached is null ? 0 : Fail(Errno.EINVAL, $"PASID {pasid} is attached to HWPT {attached.Id}");
        }

        // selftest.c: iommufd_get_hwpt looks the id up as any object, then wants a paging or nested HWPT.
        IommufdObject? found = f.Objects.Get(hwptId);
        if (found is not HwptObject hwpt)
        {
            return found is null ? Fail(Errno.ENOENT, $"no object {hwptId}") : Fail(Errno.EINVAL, $"object {hwptId} is not a HWPT");
        }

        return attached == hwpt ? 0 : Fail(Errno.EINVAL, $"PASID {pasid} is attached to {(attached is null ? "nothing" : $"HWPT {attached.Id}")}, not HWPT {hwptId}");
    }

    // The access ops take the access's fd (the kernel does fdget on it), not an object id.
    // selftest.c: iommufd_access_get answers EBADFD both for a closed fd and for one that is not an access.
    private static int NotAccess(uint fd) => Fail(Errno.EBADFD, $"{(int)fd} is not an access fd");
}
