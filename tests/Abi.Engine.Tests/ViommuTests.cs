using System.Runtime.InteropServices;
using Abi.Engine.Selftest;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using static Abi.Engine.Selftest.Uapi.Constants;
using iommu_test_cmd = Abi.Engine.Selftest.Uapi.iommu_test_cmd;

namespace Abi.Engine.Tests;

/// <summary>The mock vIOMMU: vDEVICEs, vEVENTQs, HW queues, its data and mmap-able pages, and its cache invalidation.</summary>
public sealed unsafe class ViommuTests : MockIommuTest
{
    private const uint Selftest = IOMMU_VIOMMU_TYPE_SELFTEST, SelftestEvents = IOMMU_VEVENTQ_TYPE_SELFTEST, TriggerVevent = IOMMU_TEST_OP_TRIGGER_VEVENT, DevCheckCache = IOMMU_TEST_OP_DEV_CHECK_CACHE;

    private readonly uint _ioas, _stdev, _device, _parent, _viommu, _nested;

    public ViommuTests()
    {
        (_ioas, _stdev, _, _device) = NewMockDevice();
        Assert.Equal(Errno.None, AllocHwpt(_device, _ioas, 1 /* NEST_PARENT */, out _parent));
        var viommu = new iommu_viommu_alloc { dev_id = _device, hwpt_id = _parent, type = Selftest };
        Assert.Equal(Errno.None, Raw.TryViommuAlloc(ref viommu));
        _viommu = viommu.out_viommu_id;
        Assert.Equal(Errno.None, AllocHwpt(_device, _viommu, 0, out _nested, 0xdead, [0xbadbeef]));
    }

    private Errno AllocVdevice(uint device, ulong virtId, out uint vdevice)
    {
        var alloc = new iommu_vdevice_alloc { viommu_id = _viommu, dev_id = device, virt_id = virtId };
        Errno rc = Raw.TryVdeviceAlloc(ref alloc);
        vdevice = alloc.out_vdevice_id;
        return rc;
    }

    private int Replace(uint stdev, uint pt)
    {
        var replace = new iommu_test_cmd { op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, id = stdev, mock_domain_replace = new() { pt_id = pt } };
        return Test(ref replace);
    }

    /// <summary>A fault queue, and the device replaced onto a HWPT of the IOAS that reports to it; the queue's fd.</summary>
    private int FaultQueueOnTheDevice()
    {
        var fault = new iommu_fault_alloc();
        Assert.Equal(Errno.None, Raw.TryFaultQueueAlloc(ref fault));
        var alloc = new iommu_hwpt_alloc { size = (uint)sizeof(iommu_hwpt_alloc), flags = 1u << 2 /* FAULT_ID_VALID */, dev_id = _device, pt_id = _ioas, fault_id = fault.out_fault_id };
        Assert.Equal(Errno.None, Raw.TryHwptAlloc(ref alloc));
        Assert.Equal(0, Replace(_stdev, alloc.out_hwpt_id));
        return (int)fault.out_fault_fd;
    }

    private int Trigger(uint device)
    {
        var trigger = new iommu_test_cmd { op = TriggerVevent, trigger_vevent = new() { dev_id = device } };
        return Test(ref trigger);
    }

    [Fact]
    public void Vdevice_IsNeededToAttachToANestedHwptOfTheVIommu_AndIsTombstonedWithItsDevice()
    {
        Assert.Equal(-(int)Errno.ENOENT, Replace(_stdev, _nested));                 // no vDEVICE yet
        Assert.Equal(Errno.None, AllocVdevice(_device, 0x99, out uint vdevice));
        Assert.Equal(Errno.EEXIST, AllocVdevice(_device, 0x88, out _));            // one per device
        (_, uint otherStdev, _, uint other) = NewMockDevice(ioas: _ioas);
        Assert.Equal(Errno.EEXIST, AllocVdevice(other, 0x99, out _));              // one per virtual ID
        Assert.Equal(Errno.None, AllocVdevice(other, 0x88, out uint otherVdevice));
        Assert.Equal(0, Replace(_stdev, _nested));
        Assert.Equal(Errno.EBUSY, Destroy(_viommu));

        // Unbinding the device takes its vDEVICE along, and the id stays taken.
        Assert.Equal(Errno.None, Destroy(otherStdev));
        Assert.Equal(Errno.ENOENT, Destroy(otherVdevice));
        Assert.NotEqual(otherVdevice, NewIoas());

        Assert.Equal(0, Replace(_stdev, _ioas));
        Assert.Equal(Errno.None, Destroy(vdevice));
        Assert.Equal(-(int)Errno.ENOENT, Replace(_stdev, _nested));                 // gone again
    }

    [Fact]
    public void Veventq_DeliversWholeEvents_AndCollapsesAnOverflowIntoALostEventsHeader()
    {
        var alloc = new iommu_veventq_alloc { viommu_id = _viommu, type = SelftestEvents, veventq_depth = 0 };
        Assert.Equal(Errno.EINVAL, Raw.TryVeventqAlloc(ref alloc));
        alloc.veventq_depth = (1u << 19) + 1;
        Assert.Equal(Errno.EINVAL, Raw.TryVeventqAlloc(ref alloc));
        alloc.veventq_depth = 2;
        Assert.Equal(Errno.None, Raw.TryVeventqAlloc(ref alloc));
        Assert.Equal(Errno.EEXIST, Raw.TryVeventqAlloc(ref alloc));               // one per type
        int fd = (int)alloc.out_veventq_fd;

        Assert.Equal(Errno.None, AllocVdevice(_device, 0x99, out _));
        Assert.Equal(-(int)Errno.ENOENT, Trigger(_device));                        // not on the vIOMMU's nested HWPT yet
        Assert.Equal(0, Replace(_stdev, _nested));
        Span<byte> buffer = stackalloc byte[64];
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Read(fd, buffer[..7]));          // below one header
        Assert.Equal(0, Kernel.Read(fd, buffer));                                 // empty

        Assert.Equal(0, Trigger(_device));
        PollFd[] poll = [new PollFd { Fd = fd, Events = LinuxConstants.POLLIN }];
        Assert.Equal(1, Kernel.Poll(poll, 0));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Read(fd, buffer[..8]));          // the header fits, the event does not
        Assert.Equal(12, Kernel.Read(fd, buffer));
        Assert.Equal([0u, 0u, 0x99u], MemoryMarshal.Cast<byte, uint>(buffer[..12]).ToArray());   // flags, sequence, virt_id

        // Depth 2: the third event becomes a lost-events header, which takes a sequence number too.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(0, Trigger(_device));
        }

        Assert.Equal(32, Kernel.Read(fd, buffer));
        Assert.Equal([0u, 1u, 0x99u, 0u, 2u, 0x99u, 1u /* LOST_EVENTS */, 3u], MemoryMarshal.Cast<byte, uint>(buffer[..32]).ToArray());
        Assert.Equal(0, Trigger(_device));
        Assert.Equal(12, Kernel.Read(fd, buffer));
        Assert.Equal(4u, MemoryMarshal.Read<uint>(buffer[4..]));

        Assert.Equal(Errno.EBUSY, Destroy(alloc.out_veventq_id));                // the fd pins it
        Assert.Equal(0, Kernel.Close(fd));
        Assert.Equal(Errno.None, Destroy(alloc.out_veventq_id));
        Assert.Equal(-(int)Errno.EOPNOTSUPP, Trigger(_device));                    // nowhere to report
    }

    private Errno AllocQueue(uint type, uint index, ulong iova, ulong length, out uint id)
    {
        var alloc = new iommu_hw_queue_alloc { viommu_id = _viommu, type = type, index = index, nesting_parent_iova = iova, length = length };
        Errno rc = Raw.TryHwQueueAlloc(ref alloc);
        id = alloc.out_hw_queue_id;
        return rc;
    }

    [Fact]
    public void HwQueue_PinsAndLocksItsPages_AndFillsTheMockSlotsInOrder()
    {
        const ulong Iova = 0x100_0000, Page = 4096;
        Assert.Equal(Errno.EOPNOTSUPP, AllocQueue(0, 0, Iova, Page, out _));             // DEFAULT
        Assert.Equal(Errno.EINVAL, AllocQueue(Selftest, 0, Iova, 0, out _));
        Assert.Equal(Errno.EOVERFLOW, AllocQueue(Selftest, 0, ulong.MaxValue, Page, out _));
        Assert.Equal(Errno.ENOENT, AllocQueue(Selftest, 0, Iova, Page, out _));         // nothing mapped there

        using var memory = DmaBuffer.Allocate(Kernel, 2 * (long)Page, preferHugePages: false);
        var first = Map(_ioas, (ulong)memory.Address, Page, Iova);
        var second = Map(_ioas, (ulong)memory.Address + Page, Page, Iova + Page);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref first));
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref second));

        var writeOnly = Map(_ioas, (ulong)memory.Address, Page, Iova + (4 * Page), access: 2);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref writeOnly));
        Assert.Equal(Errno.EPERM, AllocQueue(Selftest, 0, Iova + (4 * Page), Page, out _)); // the hardware reads it

        Assert.Equal(Errno.EIO, AllocQueue(Selftest, 1, Iova, Page, out _));            // slot 0 is empty
        Assert.Equal(Errno.EINVAL, AllocQueue(Selftest, 2, Iova, Page, out _));         // two slots
        Assert.Equal(Errno.None, AllocQueue(Selftest, 0, Iova, Page, out uint queue0));
        Assert.Equal(Errno.EEXIST, AllocQueue(Selftest, 0, Iova, Page, out _));

        var unmap = new iommu_ioas_unmap { ioas_id = _ioas, iova = Iova, length = Page };
        Assert.Equal(Errno.EBUSY, Raw.TryIoasUnmap(ref unmap));                        // locked by the queue
        var unmapSecond = new iommu_ioas_unmap { ioas_id = _ioas, iova = Iova + Page, length = Page };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmapSecond));

        Assert.Equal(Errno.None, AllocQueue(Selftest, 1, Iova + (Page / 2), Page / 2, out uint queue1));
        Assert.Equal(queue0 + 2, queue1);                                             // queue 0's internal access took an id
        Assert.Equal(Errno.EBUSY, Destroy(queue0));                                  // queue 1 depends on it
        Assert.Equal(Errno.EBUSY, Destroy(queue0 + 1));                              // the internal access
        Assert.Equal(Errno.EBUSY, Destroy(_viommu));
        Assert.Equal(Errno.None, Destroy(queue1));
        Assert.Equal(Errno.None, Destroy(queue0));
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));
    }

    [Fact]
    public void HwQueue_DestroyingAnyEmptiesTheMocksFirstSlot()
    {
        // selftest.c: mock_hw_queue_destroy empties hw_queue[mock_hw_queue->index], an index that
        // mock_hw_queue_init_phys never sets (0). Destroying queue 1 empties slot 0 under a live queue
        // 0 and leaves slot 1 taken (fuzzer seed 308: index 0 allocated again).
        const ulong Iova = 0x100_0000, Page = 4096;
        using var memory = DmaBuffer.Allocate(Kernel, (long)Page, preferHugePages: false);
        var map = Map(_ioas, (ulong)memory.Address, Page, Iova);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));
        Errno Alloc(uint index, out uint id) => AllocQueue(Selftest, index, Iova, Page, out id);

        Assert.Equal(Errno.None, Alloc(0, out uint queue0));
        Assert.Equal(Errno.None, Alloc(1, out uint queue1));
        Assert.Equal(Errno.None, Destroy(queue1));
        Assert.Equal(Errno.EEXIST, Alloc(1, out _));                            // slot 1 still holds the destroyed queue
        Assert.Equal(Errno.None, Alloc(0, out uint again0));                    // slot 0 was emptied under queue 0
        Assert.Equal(Errno.None, Destroy(queue0));                                   // empties slot 0 again
        Assert.Equal(Errno.None, Alloc(0, out uint third0));
        Assert.Equal(Errno.None, Destroy(third0));
        Assert.Equal(Errno.None, Destroy(again0));
    }

    [Fact]
    public void Veventq_AReadIntoABufferThatFaults_KeepsTheEventsItCouldNotCopy()
    {
        // iommufd_veventq_fops_read copies event by event: the one that faults goes back to the head,
        // still counted, and the read answers what was copied (EFAULT when nothing was).
        var alloc = new iommu_veventq_alloc { viommu_id = _viommu, type = SelftestEvents, veventq_depth = 4 };
        Assert.Equal(Errno.None, Raw.TryVeventqAlloc(ref alloc));
        int fd = (int)alloc.out_veventq_fd;
        Assert.Equal(Errno.None, AllocVdevice(_device, 0x99, out _));
        Assert.Equal(0, Replace(_stdev, _nested));
        Assert.Equal(0, Trigger(_device));
        Assert.Equal(0, Trigger(_device));

        nint pages = LinuxKernel.Instance.Mmap(0, 2 * 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        try
        {
            Assert.Equal(0, Mprotect(pages + 4096, 4096, LinuxConstants.PROT_NONE));
            Assert.Equal(12, Kernel.Read(fd, new Span<byte>((void*)(pages + 4096 - 12), 24)));       // the second event falls into the hole
            Assert.Equal(0u, *(uint*)(pages + 4096 - 8));                                           // the first one's sequence
            Assert.Equal(-(long)Errno.EFAULT, Kernel.Read(fd, new Span<byte>((void*)(pages + 4096), 24)));
            Span<byte> buffer = stackalloc byte[24];
            Assert.Equal(12, Kernel.Read(fd, buffer));
            Assert.Equal([0u, 1u, 0x99u], MemoryMarshal.Cast<byte, uint>(buffer[..12]).ToArray());
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(pages, 2 * 4096);
            Assert.Equal(0, Kernel.Close(fd));
        }
    }

    [Fact]
    public void PageRequests_OnAnUnattachedPasid_FallBackOnlyToANestedRid_AndGoWithTheirAttachment()
    {
        // find_fault_handler: an unattached PASID's request goes to the RID's handle only when the RID
        // is attached to a nested domain; on a paging HWPT nobody handles it and nothing is queued.
        int fd = FaultQueueOnTheDevice();

        var onPasid = new iommu_test_cmd { op = IOMMU_TEST_OP_TRIGGER_IOPF, trigger_iopf = new() { dev_id = _device, pasid = 1, grpid = 2, perm = 1, addr = 0x1000 } };
        Assert.Equal(0, Test(ref onPasid));
        Assert.Equal(0, Kernel.Read(fd, new byte[40]));

        var onRid = new iommu_test_cmd { op = IOMMU_TEST_OP_TRIGGER_IOPF, trigger_iopf = new() { dev_id = _device, pasid = 0 /* IOMMU_NO_PASID */, grpid = 2, perm = 1, addr = 0x1000 } };
        Assert.Equal(0, Test(ref onRid));
        Assert.Equal(0, Test(ref onRid));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Read(fd, []));                   // no room for the pending request
        byte[] read = new byte[40];
        Assert.Equal(40, Kernel.Read(fd, read));

        // iommufd_auto_response_faults: the attachment ends, so its request still queued is dropped
        // and the one read is answered for the user (its cookie no longer takes a response).
        Assert.Equal(0, Replace(_stdev, _ioas));
        Assert.Equal(0, Kernel.Read(fd, new byte[40]));
        byte[] response = new byte[8];
        BitConverter.TryWriteBytes(response, BitConverter.ToUInt32(read, 36));
        Assert.Equal(-(long)Errno.EINVAL, Kernel.Write(fd, response));
        Assert.Equal(0, Kernel.Close(fd));
    }

    [Fact]
    public void Poll_OfAFaultQueue_SleepsUntilAPageRequestIsQueued_AloneOrBesideARealFd()
    {
        // iommufd_fault_fops_poll: POLLOUT always, POLLIN once a request is queued; do_poll sleeps on the
        // queue's wait_queue, which iommufd_fault_iopf_handler wakes. The engine answered 0 at once.
        int fd = FaultQueueOnTheDevice();
        var request = new iommu_test_cmd { op = IOMMU_TEST_OP_TRIGGER_IOPF, trigger_iopf = new() { dev_id = _device, pasid = 0 /* IOMMU_NO_PASID */, grpid = 2, perm = 1, addr = 0x1000 } };
        Span<PollFd> now = [new PollFd { Fd = fd, Events = LinuxConstants.POLLIN }];
        Assert.Equal(0, Kernel.Poll(now, 20));                                      // nothing queued: the time runs out

        int eventfd = Kernel.EventFd(0, LinuxConstants.EFD_CLOEXEC);
        Assert.True(eventfd >= 0);
        try
        {
            foreach (bool besideRealFd in new[] { false, true })
            {
                (int Ready, short Events) result = default;
                var waiting = new Thread(() =>
                {
                    Span<PollFd> fds = besideRealFd
                        ? [new PollFd { Fd = eventfd, Events = LinuxConstants.POLLIN }, new PollFd { Fd = fd, Events = LinuxConstants.POLLIN }]
                        : [new PollFd { Fd = fd, Events = LinuxConstants.POLLIN }];
                    int n = Kernel.Poll(fds, -1);
                    result = (n, fds[^1].ReturnedEvents);
                });
                waiting.Start();
                Assert.False(waiting.Join(200), "poll without a timeout returned with nothing queued");
                Assert.Equal(0, Test(ref request));
                Assert.True(waiting.Join(TimeSpan.FromSeconds(60)));
                Assert.Equal((1, LinuxConstants.POLLIN), result);
                Assert.Equal(40, Kernel.Read(fd, new byte[40]));
            }
        }
        finally
        {
            Kernel.Close(eventfd);
            Assert.Equal(0, Replace(_stdev, _ioas));
            Assert.Equal(0, Kernel.Close(fd));
        }
    }

    [Fact]
    public void HwQueue_WhoseAnswerCannotBeWritten_GoesWithItsAccess_AndAnOversizedOneIsEnomem()
    {
        const ulong Iova = 0x100_0000, Page = 4096;
        using var memory = DmaBuffer.Allocate(Kernel, (long)Page, preferHugePages: false);
        var map = Map(_ioas, (ulong)memory.Address, Page, Iova);
        Assert.Equal(Errno.None, Raw.TryIoasMap(ref map));

        // kvzalloc of the page array refuses more than INT_MAX bytes, before anything is pinned.
        var huge = new iommu_hw_queue_alloc { size = (uint)sizeof(iommu_hw_queue_alloc), viommu_id = _viommu, type = Selftest, nesting_parent_iova = Iova, length = 1UL << 40 };
        Assert.Equal(Errno.ENOMEM, Raw.TryHwQueueAlloc(ref huge));

        // iommufd_object_abort_and_destroy of the queue: its internal access goes with it, so the
        // pages are no longer locked and slot 0 is free again.
        nint page = LinuxKernel.Instance.Mmap(0, 4096, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        try
        {
            *(iommu_hw_queue_alloc*)page = new iommu_hw_queue_alloc { size = (uint)sizeof(iommu_hw_queue_alloc), viommu_id = _viommu, type = Selftest, nesting_parent_iova = Iova, length = Page };
            Assert.Equal(0, Mprotect(page, 4096, LinuxConstants.PROT_READ));
            Assert.Equal(-(int)Errno.EFAULT, Kernel.Ioctl((int)Iommufd.Fd.DangerousGetHandle(), Constants.IOMMU_HW_QUEUE_ALLOC, page));
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(page, 4096);
        }

        var again = new iommu_hw_queue_alloc { size = (uint)sizeof(iommu_hw_queue_alloc), viommu_id = _viommu, type = Selftest, nesting_parent_iova = Iova, length = Page };
        Assert.Equal(Errno.None, Raw.TryHwQueueAlloc(ref again));
        Assert.Equal(Errno.None, Destroy(again.out_hw_queue_id));
        var unmap = new iommu_ioas_unmap { ioas_id = _ioas, iova = Iova, length = Page };
        Assert.Equal(Errno.None, Raw.TryIoasUnmap(ref unmap));
    }

    [Fact]
    public void NestedInvalidate_ChecksTheIotlbId_EvenForAll()
    {
        // mock_domain_cache_invalidate_user: iotlb_id past the mock's last is EINVAL before FLAG_ALL is looked at.
        Span<uint> entry = [1 /* FLAG_ALL */, 4];
        fixed (uint* e = entry)
        {
            var invalidate = new iommu_hwpt_invalidate { hwpt_id = _nested, data_uptr = (ulong)e, data_type = 0xdeadbeef, entry_len = 8, entry_num = 1 };
            Assert.Equal(Errno.EINVAL, Raw.TryHwptInvalidate(ref invalidate));
            Assert.Equal(0u, invalidate.entry_num);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mprotect")]
    private static extern int Mprotect(nint address, nuint length, int protection);

    [Fact]
    public void ViommuData_IsLoopedBack_AndItsPagesAreMappedWhole_HoldingTheVIommuBusy()
    {
        ulong[] data = [0xbeef, 0, 0];                                               // in_data, out_data | offset | length
        fixed (ulong* d = data)
        {
            var alloc = new iommu_viommu_alloc { dev_id = _device, hwpt_id = _parent, type = Selftest, data_uptr = (ulong)d, data_len = 4 };
            Assert.Equal(Errno.EINVAL, Raw.TryViommuAlloc(ref alloc));                // shorter than out_data
            alloc.data_len = 25;
            Assert.Equal(Errno.EINVAL, Raw.TryViommuAlloc(ref alloc));
            alloc.data_len = 24;
            Assert.Equal(Errno.None, Raw.TryViommuAlloc(ref alloc));

            Assert.Equal(0xbeefUL << 32 | 0xbeef, data[0]);                        // out_data = in_data
            (long offset, nuint length) = ((long)data[1], (nuint)data[2]);
            Assert.Equal(4096, offset);                                               // the first page is never handed out
            Assert.Equal((nuint)8192, length);

            const int ReadWrite = LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE;
            Assert.Equal(-(nint)Errno.ENXIO, Kernel.Mmap(0, length, ReadWrite, LinuxConstants.MAP_SHARED, Fd, offset + 4096));
            Assert.Equal(-(nint)Errno.ENXIO, Kernel.Mmap(0, length / 2, ReadWrite, LinuxConstants.MAP_SHARED, Fd, offset));
            Assert.Equal(-(nint)Errno.ENXIO, Kernel.Mmap(0, length * 2, ReadWrite, LinuxConstants.MAP_SHARED, Fd, offset));
            Assert.Equal(-(nint)Errno.EINVAL, Kernel.Mmap(0, length, ReadWrite, LinuxConstants.MAP_PRIVATE, Fd, offset));
            Assert.Equal(-(nint)Errno.EPERM, Kernel.Mmap(0, length, ReadWrite | LinuxConstants.PROT_EXEC, LinuxConstants.MAP_SHARED, Fd, offset));

            nint pages = Kernel.Mmap(0, length, ReadWrite, LinuxConstants.MAP_SHARED, Fd, offset);
            Assert.True(pages > 0);
            Assert.Equal(0xbeefu, *(uint*)pages);
            Assert.Equal(Errno.EBUSY, Destroy(alloc.out_viommu_id));                  // mapped
            Assert.Equal(0, Kernel.Munmap(pages, length));
            Assert.Equal(Errno.None, Destroy(alloc.out_viommu_id));
            Assert.Equal(-(nint)Errno.ENXIO, Kernel.Mmap(0, length, ReadWrite, LinuxConstants.MAP_SHARED, Fd, offset));
        }
    }

    [Fact]
    public void ViommuInvalidate_ClearsTheCacheOfTheDeviceKnownByTheVirtualId()
    {
        Assert.Equal(Errno.None, AllocVdevice(_device, 0x99, out _));
        int CheckCache(uint slot, uint value)
        {
            var check = new iommu_test_cmd { op = DevCheckCache, id = _device, check_dev_cache = new() { id = slot, cache = value } };
            return Test(ref check);
        }

        uint[] entries = [0, 0x99, 0, 0, 0x99, 4, 0, 0];                             // {flags, vdev_id, cache_id} x 2 (+ a zero tail)
        fixed (uint* e = entries)
        {
            var invalidate = new iommu_hwpt_invalidate { hwpt_id = _viommu, data_uptr = (ulong)e, data_type = Selftest, entry_len = 12, entry_num = 0 };
            Assert.Equal(Errno.None, Raw.TryHwptInvalidate(ref invalidate));           // an empty array checks the type
            invalidate.data_type = 0xdadbeef;
            Assert.Equal(Errno.EINVAL, Raw.TryHwptInvalidate(ref invalidate));
            invalidate.data_type = Selftest;
            invalidate.entry_num = 2;
            Assert.Equal(Errno.EINVAL, Raw.TryHwptInvalidate(ref invalidate));         // the second names cache 4
            Assert.Equal(1u, invalidate.entry_num);
            Assert.Equal(0, CheckCache(0, 0));
            Assert.Equal(0, CheckCache(1, 0xbaddad));

            entries[4] = 0x9;                                                         // an unknown virtual ID
            entries[5] = 1;
            invalidate.entry_num = 2;
            Assert.Equal(Errno.EINVAL, Raw.TryHwptInvalidate(ref invalidate));
            Assert.Equal(1u, invalidate.entry_num);

            // A 16-byte entry is read like copy_struct_from_user: its 4 extra bytes must be zero.
            entries[0] = 1;                                                           // FLAG_ALL
            entries[3] = 7;
            invalidate.entry_len = 16;
            invalidate.entry_num = 1;
            Assert.Equal(Errno.E2BIG, Raw.TryHwptInvalidate(ref invalidate));
            entries[3] = 0;
            entries[0] = 0xffff_ffff;
            invalidate.entry_num = 1;                                                 // entry_num came back as 0
            Assert.Equal(Errno.EOPNOTSUPP, Raw.TryHwptInvalidate(ref invalidate));
            Assert.Equal(0u, invalidate.entry_num);
            entries[0] = 1;
            invalidate.entry_num = 1;
            Assert.Equal(Errno.None, Raw.TryHwptInvalidate(ref invalidate));
            for (uint slot = 0; slot < 4; slot++)
            {
                Assert.Equal(0, CheckCache(slot, 0));
            }
        }
    }
}
