using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Selftest;

/// <summary>
/// The selftest's mock IOMMU (<c>drivers/iommu/iommufd/selftest.c</c>: <c>mock_ops</c>,
/// <c>mock_domain_ops</c>, <c>mock_viommu_ops</c>) in front of each mock device: 2 KiB pages in a
/// small aperture, dirty tracking unless the device says otherwise, PASIDs on request, its own
/// HW-info type and register, paging and nested domains that take the selftest's data, IOTLB and
/// device-cache invalidation, a vIOMMU with data looped back into two mmap-able pages, and HW
/// queues in two dependent slots. The values are the kernel's mock values (<c>iommufd_test.h</c>).
/// </summary>
internal sealed record MockIommu : IommuUnit
{
    /// <summary>The mock IOMMU's smallest page: 2 KiB, below PAGE_SIZE, so an IOAS's alignment can drop under it.</summary>
    public const ulong PageSize = Uapi.Constants.MOCK_PAGE_SIZE;

    /// <summary>The mock domain's aperture.</summary>
    public const ulong ApertureFirst = Uapi.Constants.MOCK_APERTURE_START, ApertureEnd = Uapi.Constants.MOCK_APERTURE_LAST;

    /// <summary>The selftest's own GET_HW_INFO type, and the register value it reports.</summary>
    public const uint SelftestHwInfoType = Uapi.Constants.IOMMU_HW_INFO_TYPE_SELFTEST, SelftestRegister = Uapi.Constants.IOMMU_HW_INFO_SELFTEST_REGVAL;

    /// <summary>Mock device flags (MOCK_FLAGS_DEVICE_*).</summary>
    public const uint NoDirty = Uapi.Constants.MOCK_FLAGS_DEVICE_NO_DIRTY, PasidCapable = Uapi.Constants.MOCK_FLAGS_DEVICE_PASID;

    /// <summary>The mock's huge leaf: a level-1 entry of its 2 KiB-granule table, 512 granules.</summary>
    public const ulong HugePageSize = Uapi.Constants.MOCK_HUGE_PAGE_SIZE;

    /// <summary>The types of the mock vIOMMU, its HW queues and its vEVENTs.</summary>
    public const uint ViommuTypeSelftest = Uapi.Constants.IOMMU_VIOMMU_TYPE_SELFTEST, HwQueueTypeSelftest = Uapi.Constants.IOMMU_HW_QUEUE_TYPE_SELFTEST, VeventTypeSelftest = Uapi.Constants.IOMMU_VEVENTQ_TYPE_SELFTEST;

    /// <summary>The PASID for which the mock driver fails every second domain change (IOMMU_TEST_PASID_RESERVED).</summary>
    private const uint PasidReserved = Uapi.Constants.IOMMU_TEST_PASID_RESERVED;

    /// <summary>The mock IOMMU in front of a mock device created with <paramref name="deviceFlags"/>.</summary>
    public MockIommu(uint deviceFlags)
    {
        // selftest.c: mock_domain_alloc_pgtable builds an AMDv1 generic page table with a 2 KiB page,
        // whose pgsize_bitmap runs from 2 KiB to 64 GiB (bits 11 to 36).
        PageSizes = ((1UL << 37) - 1) & ~(PageSize - 1);
        ApertureStart = ApertureFirst;
        ApertureLast = ApertureEnd;
        MsiWindow = false;
        DirtyTracking = (deviceFlags & NoDirty) == 0;
        Pasid = (deviceFlags & PasidCapable) != 0;
        HwInfoType = SelftestHwInfoType;
        DirtyGranuleShift = 11;
    }

    /// <summary>MOCK_PASID_WIDTH: a PASID-capable mock device takes PASIDs below 2^20.</summary>
    public override int PasidWidth => Uapi.Constants.MOCK_PASID_WIDTH;

    /// <summary>
    /// A mock device without PASIDs still has a "pasid-num-bits" property, of 0 (selftest.c:
    /// mock_dev_create), so the core gives it one PASID (2^0), not none: every PASID past 0 is refused
    /// at attach, where a PCI function without the capability (0) is skipped.
    /// </summary>
    public override uint MaxPasids => Pasid ? 1u << PasidWidth : 1;

    public override bool PasidDomains => true;

    public override bool Nesting => true;

    // selftest.c: mock_domain_capable answers only CACHE_COHERENCY and DIRTY_TRACKING, so get_hw_info
    // also reports that ATS cannot be used.
    // mock_domain_capable answers no for IOMMU_CAP_ENFORCE_CACHE_COHERENCY.
    public override bool EnforcesCacheCoherency => false;

    public override ulong HwCapabilities => (ulong)iommufd_hw_capabilities.IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED
        | (DirtyTracking ? (ulong)iommufd_hw_capabilities.IOMMU_HW_CAP_DIRTY_TRACKING : 0);

    /// <summary><c>struct iommu_test_hw_info</c>: {flags = 0, test_reg}.</summary>
    public override int HwInfo(Span<byte> blob)
    {
        MemoryMarshal.Write(blob, (ulong)SelftestRegister << 32);
        return sizeof(ulong);
    }

    /// <summary>
    /// The same mock IOMMU, but the domain built with the selftest's huge page table
    /// (<c>MOCK_IOMMUPT_HUGE</c>): it maps 1 MiB leaves where it can and PAGE_SIZE elsewhere, and
    /// keeps the real table's aperture (three levels from a 2 KiB granule: 38 bits) instead of the
    /// mock aperture.
    /// </summary>
    public MockIommu WithHugePageTable() => this with
    {
        PageSizes = HugePageSize | LinuxConstants.PageSize,
        ApertureStart = 0,
        ApertureLast = (1UL << 38) - 1,
        HugeLeaf = HugePageSize,
    };

    public override object? NewDeviceState() => new MockDeviceState();

    /// <summary>
    /// The selftest's paging data (type 0xdead, <c>{iotlb, pagetable_type}</c>): pagetable type 0
    /// is the default mock table, type 1 the huge one (<see cref="WithHugePageTable"/>).
    /// </summary>
    public override int? PagingData(ref iommu_hwpt_alloc cmd, ref IommuUnit domain)
    {
        if (SelftestHwptData(ref cmd, out _, out uint pagetableType) is int failed)
        {
            return failed;
        }

        switch (pagetableType)
        {
            case 0:
                return null;
            case 1:
                domain = WithHugePageTable();
                return null;
            default:
                return Fail(Errno.EOPNOTSUPP, $"mock page table type {pagetableType} does not exist");
        }
    }

    public override int? NestedData(ref iommu_hwpt_alloc cmd, out object? domainState)
    {
        int? failed = SelftestHwptData(ref cmd, out uint iotlb, out _);
        domainState = failed is null ? new MockNestedDomain(iotlb) : null;
        return failed;
    }

    /// <summary>The mock vIOMMU's HW queue slots (IOMMU_TEST_HW_QUEUE_MAX).</summary>
    public override int HwQueueSlots => Uapi.Constants.IOMMU_TEST_HW_QUEUE_MAX;

    /// <summary>
    /// The selftest's HWPT data <c>struct iommu_hwpt_selftest {iotlb, pagetable_type}</c> (type
    /// 0xdead), read as iommu_copy_struct_from_user does: at least the 4 bytes of <c>iotlb</c>, at
    /// most the 8 the driver knows.
    /// </summary>
    private static int? SelftestHwptData(ref iommu_hwpt_alloc cmd, out uint iotlb, out uint pagetableType)
    {
        const uint SelftestData = Uapi.Constants.IOMMU_HWPT_DATA_SELFTEST;
        iotlb = pagetableType = 0;
        if (cmd.data_type != SelftestData)
        {
            return Fail(Errno.EOPNOTSUPP, $"data_type 0x{cmd.data_type:X}: the mock IOMMU takes only its selftest data (0xdead)");
        }

        if (cmd.data_len < 4 || cmd.data_len > 8)
        {
            return Fail(Errno.EINVAL, $"data_len {cmd.data_len}: the selftest data is 4 to 8 bytes");
        }

        Span<uint> data = [0, 0];
        if (!UserAccess.TryRead(cmd.data_uptr, MemoryMarshal.AsBytes(data)[..(int)cmd.data_len]))
        {
            return Fail(Errno.EFAULT, $"data_uptr 0x{cmd.data_uptr:X} cannot be read");
        }

        iotlb = data[0];
        pagetableType = data[1];
        return null;
    }

    /// <summary>
    /// The mock driver's cache invalidation: entries <c>{flags, iotlb_id}</c> of exactly 8 bytes, type
    /// 0xdeadbeef; FLAG_ALL (bit 0) clears every IOTLB slot, otherwise slot <c>iotlb_id</c> (0-3).
    /// Stops at the first bad entry; entry_num reports the entries done.
    /// </summary>
    public override int InvalidateNested(HwptNestedObject nested, ref iommu_hwpt_invalidate cmd, uint requested)
    {
        const uint SelftestInvalidate = Uapi.Constants.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, FlagAll = Uapi.Constants.IOMMU_TEST_INVALIDATE_FLAG_ALL;
        uint EntrySize = (uint)Unsafe.SizeOf<Uapi.iommu_hwpt_invalidate_selftest>();
        if (cmd.data_type != SelftestInvalidate)
        {
            return Fail(Errno.EINVAL, $"data_type 0x{cmd.data_type:X}: the mock IOMMU takes only its selftest invalidation (0xdeadbeef)");
        }

        for (uint i = 0; i < requested; i++)
        {
            if (cmd.entry_len != EntrySize)
            {
                return Fail(Errno.EINVAL, $"entry_len {cmd.entry_len}: the selftest entry is 8 bytes");
            }

            Span<uint> entry = [0, 0];
            if (!UserAccess.TryRead(cmd.data_uptr + ((ulong)i * cmd.entry_len), MemoryMarshal.AsBytes(entry)))
            {
                return Fail(Errno.EFAULT, $"entry {i} cannot be read");
            }

            if ((entry[0] & ~FlagAll) != 0)
            {
                return Fail(Errno.EOPNOTSUPP, $"entry {i}: unknown flags 0x{entry[0]:X}");
            }

            // mock_domain_cache_invalidate_user: the id is checked even when FLAG_ALL ignores it.
            if (entry[1] >= MockNestedDomain.IotlbSlots)
            {
                return Fail(Errno.EINVAL, $"entry {i}: iotlb_id {entry[1]} is beyond the mock's {MockNestedDomain.IotlbSlots} slots");
            }

            if ((entry[0] & FlagAll) != 0)
            {
                ((MockNestedDomain)nested.DriverState!).ClearIotlb();
            }
            else
            {
                ((MockNestedDomain)nested.DriverState!).SetIotlb((int)entry[1], 0);
            }

            cmd.entry_num = i + 1;
        }

        return 0;
    }


    /// <summary>
    /// The mock vIOMMU's cache invalidation: entries <c>{flags, vdev_id, cache_id}</c> (12 bytes,
    /// type 0xdeadbeef) that clear cache slot <c>cache_id</c> (0-3), or with FLAG_ALL every slot, of
    /// the device known to the vIOMMU as <c>vdev_id</c>. An empty array only checks the type. The
    /// entries are read as copy_struct_from_user reads them: a shorter entry is zero-extended, a
    /// longer one must have zero tail bytes (E2BIG). Stops at the first bad entry.
    /// </summary>
    public override int InvalidateViommu(ViommuObject viommu, ref iommu_hwpt_invalidate cmd, uint requested)
    {
        const uint SelftestInvalidate = Uapi.Constants.IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, FlagAll = Uapi.Constants.IOMMU_TEST_INVALIDATE_FLAG_ALL;
        int EntrySize = Unsafe.SizeOf<Uapi.iommu_viommu_invalidate_selftest>();
        if (requested == 0 && cmd.data_type == SelftestInvalidate)
        {
            return 0;
        }

        if (cmd.data_type != SelftestInvalidate || requested == 0)
        {
            return Fail(Errno.EINVAL, $"data_type 0x{cmd.data_type:X}: the mock vIOMMU takes only its selftest invalidation (0xdeadbeef)");
        }

        // iommu_copy_struct_from_full_user_array: the whole array at once when the entries are the
        // mock's size, else entry by entry with copy_struct_from_user (the tail's zero check first,
        // word by word, so a non-zero byte before a hole is E2BIG), before any entry acts.
        var entries = new uint[requested * 3];
        Span<byte> all = MemoryMarshal.AsBytes(entries.AsSpan());
        if (cmd.entry_len == EntrySize)
        {
            if (!UserAccess.TryRead(cmd.data_uptr, all))
            {
                return Fail(Errno.EFAULT, "the entry array cannot be read");
            }
        }
        else
        {
            for (uint i = 0; i < requested; i++)
            {
                int copied = UserAccess.CopyStructFromUser(all.Slice((int)i * EntrySize, EntrySize), cmd.data_uptr + ((ulong)i * cmd.entry_len), cmd.entry_len);
                if (copied != 0)
                {
                    return Fail((Errno)(-copied), copied == -(int)Errno.E2BIG
                        ? $"entry {i} has non-zero bytes past the {EntrySize} the mock understands"
                        : $"entry {i} cannot be read");
                }
            }
        }

        for (uint i = 0; i < requested; i++)
        {
            uint flags = entries[i * 3], vdevId = entries[(i * 3) + 1], cacheId = entries[(i * 3) + 2];
            if ((flags & ~FlagAll) != 0)
            {
                return Fail(Errno.EOPNOTSUPP, $"entry {i}: unknown flags 0x{flags:X}");
            }

            if (cacheId >= MockDeviceState.CacheSlots)
            {
                return Fail(Errno.EINVAL, $"entry {i}: cache_id {cacheId} is beyond the mock device's {MockDeviceState.CacheSlots} cache slots");
            }

            if (!viommu.TryGetVdevice(vdevId, out VdeviceObject? vdevice) || vdevice.Device.DriverState is not MockDeviceState state)
            {
                return Fail(Errno.EINVAL, $"entry {i}: vIOMMU {viommu.Id} has no vDEVICE with virtual ID 0x{vdevId:X}");
            }

            if ((flags & FlagAll) != 0)
            {
                state.ClearCache();
            }
            else
            {
                state.SetCache((int)cacheId, 0);
            }

            cmd.entry_num = i + 1;
        }

        return 0;
    }

    public override int? ViommuType(uint type) =>
        type == ViommuTypeSelftest ? null : Fail(Errno.EOPNOTSUPP, $"vIOMMU type 0x{type:X}: the mock IOMMU has only type 0xdeadbeef");

    /// <summary>
    /// The mock's data, <c>iommu_viommu_selftest</c> (8 to 24 bytes, as iommu_copy_struct_from_user
    /// with out_data as the oldest last member): in_data is looped back into out_data and into the
    /// first word of two fresh pages, whose mmap offset and length are reported.
    /// </summary>
    public override int? ViommuData(IommufdFile context, ViommuObject viommu, ulong uptr, uint length)
    {
        const uint MinLength = 8, FullLength = 24, PagesLength = 2 * LinuxConstants.PageSize;
        if (length < MinLength || length > FullLength)
        {
            return Fail(Errno.EINVAL, $"data_len {length}: the mock's vIOMMU data is {MinLength} to {FullLength} bytes");
        }

        Span<byte> data = stackalloc byte[(int)FullLength];
        data.Clear();
        if (!UserAccess.TryRead(uptr, data[..(int)length]))
        {
            return Fail(Errno.EFAULT, "the vIOMMU data cannot be read");
        }

        uint inData = BitConverter.ToUInt32(data);
        MmapRegion pages;
        try
        {
            pages = new MmapRegion(viommu, context.AllocateMmapOffset(PagesLength), PagesLength);
        }
        catch (SyscallException e)
        {
            return Fail(Errno.ENOMEM, $"no pages for the vIOMMU: {e.Message}");
        }

        pages.Write(0, data[..sizeof(uint)]);
        BitConverter.TryWriteBytes(data[4..], inData);
        BitConverter.TryWriteBytes(data[8..], pages.Offset);
        BitConverter.TryWriteBytes(data[16..], pages.Length);
        if (!UserAccess.TryWrite(uptr, data[..(int)length]))
        {
            pages.Dispose();
            return Fail(Errno.EFAULT, "the vIOMMU data cannot be written back");
        }

        viommu.Pages = pages;
        return null;
    }

    public override int? HwQueueType(uint type) =>
        type == HwQueueTypeSelftest ? null : Fail(Errno.EOPNOTSUPP, $"HW queue type 0x{type:X}: the mock vIOMMU has only type 0xdeadbeef");

    /// <summary>The mock's slots: index below 2, free, and after an occupied slot (EIO otherwise).</summary>
    public override int HwQueueSlot(ViommuObject viommu, uint index)
    {
        if (index >= viommu.HwQueueSlots)
        {
            return Fail(Errno.EINVAL, $"HW queue index {index}: the mock vIOMMU has {viommu.HwQueueSlots} slots");
        }

        if (viommu.HwQueue((int)index) is HwQueueObject taken)
        {
            return Fail(Errno.EEXIST, $"HW queue slot {index} is taken by {taken.Id}");
        }

        return index > 0 && viommu.HwQueue((int)index - 1) is null
            ? Fail(Errno.EIO, $"HW queue slot {index - 1} is empty; the mock fills its slots in order")
            : 0;
    }

    /// <summary>
    /// selftest.c: mock_hw_queue_destroy empties the slot at <c>mock_hw_queue->index</c>, which
    /// mock_hw_queue_init_phys never sets: it is always 0. So destroying any queue (an answer that
    /// cannot be written destroys a new one) empties slot 0, and a queue at index 1 leaves its own slot
    /// taken by the destroyed queue (a dangling pointer there, only ever compared with NULL): index 0
    /// can be allocated again beside a live queue 0, index 1 never again on that vIOMMU.
    /// </summary>
    public override void HwQueueDestroyed(ViommuObject viommu, HwQueueObject queue) => viommu.SetHwQueue(0, null);

    /// <summary>
    /// The mock driver's armed failure: after a successful attach of PASID 1024, its next change to
    /// another domain fails once with ENOMEM (the selftest's way to test replace rollback).
    /// </summary>
    public override int? PasidChange(DeviceObject device, uint pasid)
    {
        if (pasid != PasidReserved || device.DriverState is not MockDeviceState state)
        {
            return null;
        }

        state.Pasid1024Fails = !state.Pasid1024Fails;
        return state.Pasid1024Fails ? null : Fail(Errno.ENOMEM, $"the mock driver fails this change of PASID {PasidReserved} (IOMMU_TEST_PASID_RESERVED)");
    }

    /// <summary>Going to the blocked domain disarms the PASID 1024 failure.</summary>
    public override void PasidBlocked(DeviceObject device, uint pasid)
    {
        if (pasid == PasidReserved && device.DriverState is MockDeviceState state)
        {
            state.Pasid1024Fails = false;
        }
    }

    /// <summary>What the mock driver remembers at attach: it changes only when the vIOMMU does.</summary>
    public override void Attached(DeviceObject device, ViommuObject? viommu)
    {
        if (device.DriverState is MockDeviceState state && state.Viommu.Viommu != viommu)
        {
            state.Viommu = (viommu, device.Vdevice is { } v && v.Viommu == viommu ? v.VirtId : 0);
        }
    }
}
