using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>Pinned-memory accounting (drivers/iommu/iommufd/pages.c: iopt_pages_update_pinned, incr_user_locked_vm; vfio_iommu_type1.c: vfio_lock_acct): what is charged when, in which counter, and ENOMEM past RLIMIT_MEMLOCK.</summary>
public sealed class AccountingTests : DeviceTest
{
    private const ulong Iova = 0x10_0000;

    public AccountingTests()
    {
        // The tests run as root; the engine is told the mapper lacks CAP_IPC_LOCK, as an ordinary driver would.
        Kernel.Accounting.HasIpcLock = false;
        Kernel.Accounting.LimitPages = 1 << 20;
    }

    private PinAccounting Counters => Kernel.Accounting;

    [Fact]
    public void UserMode_ChargesOnlyWhileADomainPinsThePages()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        Assert.Equal((0, 0, 0), Snapshot());                             // no domain: nothing pinned yet

        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);                                           // the automatic domain pins the mapping
        Assert.Equal((4, 0, 4), Snapshot());

        ioas.Map(memory.Address, 4096, Iova + 0x10_0000);                 // a second mapping of the same memory: its own pages object
        Assert.Equal((5, 0, 5), Snapshot());

        ioas.Unmap(Iova + 0x10_0000, 4096);
        device.Detach();                                                  // the last domain goes: everything is unpinned
        Assert.Equal((0, 0, 0), Snapshot());

        device.Attach(ioas.Id);
        Assert.Equal((4, 0, 4), Snapshot());
        ioas.UnmapAll();
        Assert.Equal((0, 0, 0), Snapshot());
    }

    [Fact]
    public void CopyOfPartOfAMapping_ChargesOnlyThePagesItPins()
    {
        // pages.c charges the distinct pages an iopt_pages object has pinned: a COPY of 4 of 64 pages
        // into an IOAS with a domain pins (and charges) 4, and the rest of the limit stays usable.
        Counters.LimitPages = 16;
        using var memory = DmaBuffer.Allocate(Kernel, 64 * 4096, preferHugePages: false);
        using Ioas source = Iommufd.AllocIoas();
        source.Map(memory, Iova);                                         // no domain: nothing pinned
        using Ioas target = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out _);
        device.Attach(target.Id);

        target.CopyFrom(source, Iova + (8 * 4096), 4 * 4096, Iova);
        Assert.Equal((4, 0, 4), Snapshot());
        target.CopyFrom(source, Iova + (10 * 4096), 4 * 4096, Iova + 0x10_0000);   // overlaps 2 pinned pages
        Assert.Equal((6, 0, 6), Snapshot());
        target.Map(memory.Address, 10 * 4096, Iova + 0x20_0000);          // its own pages object: 10 more, 16 in all
        Assert.Equal((16, 0, 16), Snapshot());

        target.Unmap(Iova, 4 * 4096);                                     // 2 of its pages are still pinned by the second copy
        Assert.Equal((14, 0, 14), Snapshot());
    }

    [Fact]
    public void MapIntoADomain_PastTheLimit_IsEnomem_AndMapsNothing()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        Counters.LimitPages = 3;

        var map = Map(ioas.Id, (ulong)memory.Address, 4 * 4096, Iova);
        Assert.Equal(Errno.ENOMEM, Raw.TryIoasMap(ref map));
        Assert.Contains("RLIMIT_MEMLOCK", Kernel.LastErrorReason, StringComparison.Ordinal);
        Assert.Equal(0UL, ioas.UnmapAll());                               // nothing was mapped
        Assert.Equal((0, 0, 0), Snapshot());

        ioas.Map(memory.Address, 3 * 4096, Iova);                         // exactly the limit fits
        Assert.Equal((3, 0, 3), Snapshot());
    }

    [Fact]
    public void FirstDomain_PastTheLimit_IsEnomem_ForAttachAndHwptAlloc()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        using VfioDevice device = OpenBound(out uint deviceId);
        Counters.LimitPages = 3;

        var attach = new vfio_device_attach_iommufd_pt { argsz = 16, pt_id = ioas.Id };
        Assert.Equal(Errno.ENOMEM, RawDevice(device).TryAttachIommufdPt(ref attach));
        Assert.False(Edu.Dma.IsAttached);

        var alloc = new iommu_hwpt_alloc { size = 48, dev_id = deviceId, pt_id = ioas.Id };
        Assert.Equal(Errno.ENOMEM, Raw.TryHwptAlloc(ref alloc));
        Assert.Equal((0, 0, 0), Snapshot());

        Counters.LimitPages = 4;
        Assert.Equal(Errno.None, Raw.TryHwptAlloc(ref alloc));
        Assert.Equal((4, 0, 4), Snapshot());
        Iommufd.Destroy(alloc.out_hwpt_id);
        Assert.Equal((0, 0, 0), Snapshot());
    }

    [Fact]
    public void Copy_SharesThePagesObject_AndIsChargedOnce()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas first = Iommufd.AllocIoas();
        using Ioas second = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out uint deviceId);
        var alloc = new iommu_hwpt_alloc { size = 48, dev_id = deviceId, pt_id = second.Id };
        Assert.Equal(Errno.None, Raw.TryHwptAlloc(ref alloc));
        device.Attach(first.Id);

        first.Map(memory, Iova);
        second.CopyFrom(first, Iova, 4 * 4096, Iova);
        Assert.Equal((4, 0, 4), Snapshot());

        first.UnmapAll();                                                 // the copy still pins the pages
        Assert.Equal((4, 0, 4), Snapshot());
        second.UnmapAll();
        Assert.Equal((0, 0, 0), Snapshot());
        Iommufd.Destroy(alloc.out_hwpt_id);
    }

    [Fact]
    public void WithCapIpcLock_NothingIsLimited_ButVmPinCounts()
    {
        Counters.HasIpcLock = true;
        Counters.LimitPages = 0;
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        ioas.Map(memory, Iova);
        Assert.Equal((0, 0, 2), Snapshot());
    }

    [Fact]
    public void AnIommufdOpenedAsTheContainer_ChargesVmLck()
    {
        using IommuFd compat = IommuFd.Open(Kernel, "/dev/vfio/vfio");
        Assert.Equal(1UL, compat.GetOption(iommufd_option.IOMMU_OPTION_RLIMIT_MODE));   // "mm", as type1
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        using Ioas ioas = compat.AllocIoas();
        using VfioDevice device = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);
        device.BindIommufd(compat);
        device.Attach(ioas.Id);
        ioas.Map(memory, Iova);
        Assert.Equal((0, 2, 2), Snapshot());
    }

    [Fact]
    public void AccessPins_ChargeWithoutADomain_AndNotAgainWithOne()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        AccessObject access = Context.CreateAccess(null);
        Assert.Equal(0, access.Attach(ioas.Id));

        Assert.Equal(0, access.Pin(Iova, 2 * 4096, write: true));
        Assert.Equal((2, 0, 2), Snapshot());
        Counters.LimitPages = 3;
        Assert.Equal(-(int)Errno.ENOMEM, access.Pin(Iova + (2 * 4096), 2 * 4096, write: true));
        Assert.Equal((2, 0, 2), Snapshot());
        access.Unpin(Iova, 2 * 4096);
        Assert.Equal((0, 0, 0), Snapshot());

        Counters.LimitPages = 1 << 20;
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        Assert.Equal(0, access.Pin(Iova, 4096, write: false));            // already pinned for the domain
        Assert.Equal((4, 0, 4), Snapshot());
        access.Detach();
        Assert.Equal((4, 0, 4), Snapshot());
    }

    [Fact]
    public void ClosingTheContext_UnpinsEverything()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        IommuFd context = IommuFd.Open(Kernel);
        Ioas ioas = context.AllocIoas();
        using VfioDevice device = VfioDevice.OpenCdev(Node.CdevPath!, Kernel);
        device.BindIommufd(context);
        device.Attach(ioas.Id);
        ioas.Map(memory, Iova);
        Assert.Equal((4, 0, 4), Snapshot());

        device.Dispose();
        context.Dispose();
        Assert.Equal((0, 0, 0), Snapshot());
    }

    [Theory]
    [InlineData(ContainerBackend.Type1)]
    [InlineData(ContainerBackend.Iommufd)]
    public void Containers_ChargeVmLck_Type1PerMapping_CompatPerPagesObject(ContainerBackend backend)
    {
        var kernel = new EmulatedKernel(backend);
        kernel.Accounting.HasIpcLock = false;
        kernel.Accounting.LimitPages = 1 << 20;
        var edu = new Abi.Engine.Devices.EduDevice();
        var node = kernel.AddDevice(edu);
        using var memory = DmaBuffer.Allocate(kernel, 4 * 4096, preferHugePages: false);
        using VfioContainer container = VfioContainer.Open(kernel);
        using VfioGroup group = VfioGroup.Open(node.GroupPath, kernel);
        group.SetContainer(container);
        container.SetIommu(3);
        using VfioDevice device = group.GetDevice(node.PciName);

        container.MapDma(memory, Iova);
        container.MapDma(memory.Address, 4 * 4096, Iova + 0x10_0000, 3);  // the same memory twice
        Assert.Equal((0L, 8L, 8L), (kernel.Accounting.UserLockedPages, kernel.Accounting.MmLockedPages, kernel.Accounting.MmPinnedPages));

        kernel.Accounting.LimitPages = 9;
        var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = 3, vaddr = (ulong)memory.Address, iova = Iova + 0x20_0000, size = 2 * 4096 };
        Assert.Equal(Errno.ENOMEM, new VfioContainerIoctls(kernel, (int)container.Fd.DangerousGetHandle()).TryIommuMapDma(ref map));

        container.UnmapDma(Iova, 4 * 4096);
        Assert.Equal(4L, kernel.Accounting.MmLockedPages);
        container.UnmapDma(0, 0, Constants.VFIO_DMA_UNMAP_FLAG_ALL);
        Assert.Equal((0L, 0L, 0L), (kernel.Accounting.UserLockedPages, kernel.Accounting.MmLockedPages, kernel.Accounting.MmPinnedPages));
    }

    private (long User, long Mm, long Pinned) Snapshot() => (Counters.UserLockedPages, Counters.MmLockedPages, Counters.MmPinnedPages);

}
