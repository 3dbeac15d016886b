using System.Text;
using Abi.Engine.Devices;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>
/// Differences from the 7.2 kernel that the fuzzer's device and legacy operations (campaign.sh --vfio)
/// found on QEMU's edu, each pinned as the kernel behaves, with the kernel function it follows.
/// </summary>
public sealed unsafe class VfioFuzzFindingsTests : IDisposable
{
    private const int ORdwr = 2;
    private readonly EmulatedKernel _kernel = new(ContainerBackend.Type1) { VtdAsQemu = true };
    private readonly EmulatedDeviceInfo _node;
    private readonly EduDevice _edu = new(msix: false, functionReset: false);
    private readonly int _iommufd;

    public VfioFuzzFindingsTests()
    {
        _node = _kernel.AddDevice(_edu);
        _iommufd = Open("/dev/iommu", ORdwr);
    }

    public void Dispose() => _kernel.Close(_iommufd);

    [Fact]
    public void AGroupHoldsItsIommufd_WhoseFdCanCloseFirst()
    {
        // group.c: vfio_group_ioctl_set_container keeps a reference on the iommufd's file
        // (iommufd_ctx_from_file), so its compat IOAS outlives the fd; the engine destroyed it with the
        // fd and answered GET_DEVICE_FD with ENODEV.
        int iommufd = Open("/dev/iommu", ORdwr);
        int group = Open(_node.GroupPath, ORdwr);
        Assert.Equal(0, SetContainer(group, iommufd));
        Assert.Equal(0, _kernel.Close(iommufd));
        int device = GetDeviceFd(group, _node.PciName);
        Assert.True(device >= 0, $"GET_DEVICE_FD answered {device}");
        Assert.Equal(0, _kernel.Close(device));
        Assert.Equal(0, _kernel.Close(group));
    }

    [Fact]
    public void ClosingAnotherFileOfTheGroup_LeavesAnOpenDevicesDma()
    {
        // group.c: vfio_group_fops_release only lets go of the iommufd; a device fd opened through an
        // earlier file of the group keeps its binding and its DMA. The engine detached the device's DMA
        // when the later file closed.
        (int first, int device) = GroupAndDeviceOnTheIommufd();
        Assert.True(_edu.Dma.IsAttached);
        Assert.Equal(0, _kernel.Close(first));
        int second = Open(_node.GroupPath, ORdwr);
        Assert.True(second >= 0);
        Assert.Equal(0, _kernel.Close(second));
        Assert.True(_edu.Dma.IsAttached);
        Assert.Equal(0, _kernel.Close(device));
        Assert.False(_edu.Dma.IsAttached);
    }

    [Fact]
    public void UnsettingAnIommufd_LeavesTheOpenDeviceBound_AndItsDmaOwned()
    {
        // group.c: vfio_group_ioctl_unset_container counts users only for a container; with an iommufd it
        // only lets go of it, and the open device keeps its binding (df->iommufd). Without a container the
        // group is then not viable (vfio_group_ioctl_get_status), and a container cannot claim its DMA
        // (vfio_container_attach_group: iommu_group_claim_dma_owner, EPERM).
        (int group, int device) = GroupAndDeviceOnTheIommufd();
        Assert.Equal(0, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_UNSET_CONTAINER, 0));
        Assert.Equal(0u, GroupStatus(group));

        int container = Open("/dev/vfio/vfio", ORdwr);
        Assert.Equal(-(int)Errno.EPERM, SetContainer(group, container));
        var info = new vfio_device_info { argsz = (uint)sizeof(vfio_device_info) };
        Assert.Equal(0, _kernel.Ioctl(device, (uint)Constants.VFIO_DEVICE_GET_INFO, (nint)(&info)));

        _kernel.Close(device);
        Assert.Equal((uint)Constants.VFIO_GROUP_FLAGS_VIABLE, GroupStatus(group));
        Assert.Equal(0, SetContainer(group, container));
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.True(cdev >= 0);
        Assert.Equal(-(int)Errno.EBUSY, BindCdev(cdev));                     // the group is open (vfio_device_block_group)
    }

    [Fact]
    public void AContainersUsers_StillKeepItsGroup()
    {
        (int group, _) = GroupInType1Container(Constants.VFIO_TYPE1v2_IOMMU);
        int device = GetDeviceFd(group, _node.PciName);
        Assert.True(device >= 0);
        Assert.Equal(-(int)Errno.EBUSY, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_UNSET_CONTAINER, 0));
    }

    [Fact]
    public void AGroupDeviceAfterItsCompatIoasWasDestroyed_IsEnodev()
    {
        // vfio_iommufd_compat_attach_ioas -> iommufd_vfio_compat_ioas_get_id: get_compat_ioas is ENODEV
        // once the IOAS SET_CONTAINER made is gone (the name is found first).
        int group = Open(_node.GroupPath, ORdwr);
        Assert.Equal(0, SetContainer(group, _iommufd));
        var get = new iommu_vfio_ioas { size = (uint)sizeof(iommu_vfio_ioas), op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_GET };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_VFIO_IOAS, (nint)(&get)));
        var destroy = new iommu_destroy { size = (uint)sizeof(iommu_destroy), id = get.ioas_id };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_DESTROY, (nint)(&destroy)));
        Assert.Equal(-(int)Errno.ENODEV, GetDeviceFd(group, _node.PciName));
        Assert.Equal(-(int)Errno.ENODEV, GetDeviceFd(group, "0000:00:1f.0"));
    }

    [Fact]
    public void BindOnAGroupsDeviceFd_ChecksTheArgument_ThenIsEinval()
    {
        // device_cdev.c: vfio_df_ioctl_bind_iommufd reads and checks the argument, then refuses df->group.
        (int group, _) = GroupInType1Container(Constants.VFIO_TYPE1v2_IOMMU);
        int device = GetDeviceFd(group, _node.PciName);
        Assert.Equal(-(int)Errno.EFAULT, _kernel.Ioctl(device, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, 0));
        var bind = new vfio_device_bind_iommufd { argsz = (uint)sizeof(vfio_device_bind_iommufd), iommufd = _iommufd };
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Ioctl(device, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, (nint)(&bind)));
        bind.argsz = 4;
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Ioctl(device, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, (nint)(&bind)));
    }

    [Fact]
    public void MmapChecksTheFilesAccessMode_First()
    {
        // mm/mmap.c: do_mmap answers EACCES for a shared writable mapping of a file opened read-only, and
        // for any mapping of a write-only one, before it asks whether the file can be mapped (ENODEV).
        int readOnly = Open("/dev/vfio/vfio", 0);
        Assert.Equal(-(int)Errno.EACCES, (int)_kernel.Mmap(0, 4096, LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, readOnly, 0));
        Assert.Equal(-(int)Errno.ENODEV, (int)_kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_SHARED, readOnly, 0));
        Assert.Equal(-(int)Errno.ENODEV, (int)_kernel.Mmap(0, 4096, LinuxConstants.PROT_WRITE, LinuxConstants.MAP_PRIVATE, readOnly, 0));
        int writeOnly = Open("/dev/vfio/vfio", 1);
        Assert.Equal(-(int)Errno.EACCES, (int)_kernel.Mmap(0, 4096, LinuxConstants.PROT_READ, LinuxConstants.MAP_PRIVATE, writeOnly, 0));
    }

    [Fact]
    public void DeviceInfo_AnswersArgszBytesUpToTheStruct()
    {
        // vfio_pci_core.c: vfio_pci_ioctl_get_info copies back min(argsz, sizeof(info)) bytes, so a
        // 24-byte argument whose last 8 bytes cannot be written is EFAULT, and cap_offset comes back 0.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        nint page = LinuxKernel.Instance.Mmap(0, 8192, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS, -1, 0);
        Assert.True(page > 0);
        try
        {
            Assert.Equal(0, Mprotect(page + 4096, 4096, LinuxConstants.PROT_NONE));
            nint info = page + 4096 - 16;                                   // 16 readable bytes, then PROT_NONE
            *(uint*)info = 24;
            Assert.Equal(-(int)Errno.EFAULT, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_GET_INFO, info));
            var whole = new vfio_device_info { argsz = 24, cap_offset = 0xFFFF };
            Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_GET_INFO, (nint)(&whole)));
            Assert.Equal(0u, whole.cap_offset);
        }
        finally
        {
            _ = LinuxKernel.Instance.Munmap(page, 8192);
        }
    }

    [Fact]
    public void PasidDetach_OfAPasidNeverAttached_IsNoError_AndPasidZeroOnAnAttachedRid_IsEbusy()
    {
        // iommufd.c: vfio_iommufd_physical_pasid_detach_ioas ignores a PASID not in its ida;
        // pasid_attach_ioas attaches PASID 0 (the RID) afresh, which iommufd_hw_pagetable_attach
        // refuses for an attached device (EBUSY).
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        var detach = new vfio_device_detach_iommufd_pt { argsz = 8, flags = (uint)Constants.VFIO_DEVICE_DETACH_PASID, pasid = 1 };
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_DETACH_IOMMUFD_PT, (nint)(&detach)));
        detach.argsz = (uint)sizeof(vfio_device_detach_iommufd_pt);
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_DETACH_IOMMUFD_PT, (nint)(&detach)));

        var alloc = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        var attach = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), pt_id = alloc.out_ioas_id };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&attach)));
        attach = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), flags = (uint)Constants.VFIO_DEVICE_ATTACH_PASID, pt_id = alloc.out_ioas_id, pasid = 0 };
        Assert.Equal(-(int)Errno.EBUSY, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&attach)));
    }

    [Fact]
    public void PasidZeroOnAnAttachedRid_LooksItsPtUpBeforeItIsBusy()
    {
        // Seed 1226 of the --vfio campaign (300 calls). device.c: iommufd_device_change_pt looks pt_id up
        // (ENOENT; EINVAL for an object that is neither an IOAS nor a HWPT) before
        // iommufd_hw_pagetable_attach meets the attached RID in its attachment (EBUSY).
        int cdev = Open(_node.CdevPath!, ORdwr);
        var bind = new vfio_device_bind_iommufd { argsz = (uint)sizeof(vfio_device_bind_iommufd), iommufd = _iommufd };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, (nint)(&bind)));
        var alloc = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        var attach = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), pt_id = alloc.out_ioas_id };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&attach)));
        uint hwpt = attach.pt_id;

        foreach ((uint ptId, Errno expected) in new[] { (9999u, Errno.ENOENT), (bind.out_devid, Errno.EINVAL), (alloc.out_ioas_id, Errno.EBUSY), (hwpt, Errno.EBUSY) })
        {
            var pasid0 = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), flags = (uint)Constants.VFIO_DEVICE_ATTACH_PASID, pt_id = ptId, pasid = 0 };
            Assert.Equal(-(int)expected, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&pasid0)));
            Assert.Equal(ptId, pasid0.pt_id);                                  // nothing was written back
        }

        // The RID kept its domain: attaching it to the IOAS again is a replace with the same HWPT.
        attach = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), pt_id = alloc.out_ioas_id };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&attach)));
        Assert.Equal(hwpt, attach.pt_id);
    }

    [Fact]
    public void AGroupOpenedAgain_OpensTheStillOpenDeviceAgain_WithoutBindingIt()
    {
        // Seed 1862 of the --vfio campaign (300 calls). group.c: a group file released while its device
        // fds stay open lets its iommufd go; opened again and set, its next device fd is the device's
        // second open (vfio_df_open: open_count), which neither binds nor attaches: a compat IOAS
        // changed in between does not matter. The device's last close unbinds it.
        int group = Open(_node.GroupPath, ORdwr);
        Assert.Equal(0, SetContainer(group, _iommufd));
        int first = GetDeviceFd(group, _node.PciName);
        Assert.True(first >= 0);
        Assert.Equal(0, _kernel.Close(group));

        var alloc = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        var compat = new iommu_vfio_ioas { size = (uint)sizeof(iommu_vfio_ioas), ioas_id = alloc.out_ioas_id, op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_SET };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_VFIO_IOAS, (nint)(&compat)));

        int again = Open(_node.GroupPath, ORdwr);
        Assert.True(again >= 0);
        Assert.Equal(0, SetContainer(again, _iommufd));
        int second = GetDeviceFd(again, _node.PciName);
        Assert.True(second >= 0, $"second open: {second}");

        // The new compat IOAS has no device: nothing was attached to it, so it goes at once.
        var destroy = new iommu_destroy { size = (uint)sizeof(iommu_destroy), id = alloc.out_ioas_id };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_DESTROY, (nint)(&destroy)));

        Assert.Equal(0, _kernel.Close(first));
        var info = new vfio_device_info { argsz = (uint)sizeof(vfio_device_info) };
        Assert.Equal(0, _kernel.Ioctl(second, (uint)Constants.VFIO_DEVICE_GET_INFO, (nint)(&info)));
        Assert.Equal(0, _kernel.Close(second));
        Assert.Equal(0, _kernel.Close(again));

        // Closed for good: nothing holds the device, so its cdev binds.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
    }

    [Fact]
    public void PasidZeroAttachedThroughTheFlag_MakesARidAttachFresh_AndARidDetachLeavesIt()
    {
        // Seed 2667 of a 500-call --vfio run. iommufd.c: vdev->iommufd_attached is set by attach_ioas
        // only; with PASID 0 attached through the PASID flag, a RID attach is iommufd_device_attach
        // (not _replace), which meets the device in the attachment (EBUSY), and a RID detach does
        // nothing (vfio_iommufd_physical_detach_ioas).
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        var alloc = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        var pasid0 = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), flags = (uint)Constants.VFIO_DEVICE_ATTACH_PASID, pt_id = alloc.out_ioas_id, pasid = 0 };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&pasid0)));

        var rid = new vfio_device_attach_iommufd_pt { argsz = (uint)sizeof(vfio_device_attach_iommufd_pt), pt_id = alloc.out_ioas_id };
        Assert.Equal(-(int)Errno.EBUSY, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&rid)));
        var detach = new vfio_device_detach_iommufd_pt { argsz = (uint)sizeof(vfio_device_detach_iommufd_pt) };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_DETACH_IOMMUFD_PT, (nint)(&detach)));
        Assert.Equal(-(int)Errno.EBUSY, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&rid)));   // still attached

        // Detached through the flag, the RID attaches afresh, and a second RID attach is a replace.
        detach = new vfio_device_detach_iommufd_pt { argsz = (uint)sizeof(vfio_device_detach_iommufd_pt), flags = (uint)Constants.VFIO_DEVICE_DETACH_PASID, pasid = 0 };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_DETACH_IOMMUFD_PT, (nint)(&detach)));
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&rid)));
        rid.pt_id = alloc.out_ioas_id;
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_ATTACH_IOMMUFD_PT, (nint)(&rid)));
    }

    [Fact]
    public void DirtyPagesOnAType1v1Container_IsEacces_BeforeItsArgumentIsRead()
    {
        // Seed 3914 of a 500-call --vfio run. vfio_iommu_type1.c: vfio_iommu_type1_ioctl has no check of
        // its own, and vfio_iommu_type1_dirty_pages asks for v2 before its copy_from_user.
        (_, int container) = GroupInType1Container(Constants.VFIO_TYPE1_IOMMU);
        Assert.Equal(-(int)Errno.EACCES, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_DIRTY_PAGES, 0));
        Assert.Equal(-(int)Errno.EFAULT, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_MAP_DMA, 0));
        Assert.Equal(-(int)Errno.EFAULT, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_GET_INFO, 0));
    }

    [Fact]
    public void UnmapWithTheDirtyBitmap_ChecksItsRange_BeforeTrackingAndPageSize()
    {
        // Seed 8713 of an 800-call --vfio run. vfio_iommu_type1.c: vfio_iommu_type1_unmap_dma checks
        // only access_ok and verify_bitmap_size before vfio_dma_do_unmap, which answers a range that
        // wraps (EOVERFLOW) before it asks whether dirty tracking runs or the bitmap's page size is the
        // IOMMU's (EINVAL). The engine asked both first.
        (_, int container) = GroupInType1Container(Constants.VFIO_TYPE1v2_IOMMU);

        ulong bits = 0;
        byte* unmap = stackalloc byte[48];
        new Span<byte>(unmap, 48).Clear();
        *(vfio_iommu_type1_dma_unmap*)unmap = new vfio_iommu_type1_dma_unmap { argsz = 48, flags = 1, iova = 0xFFFF_FFFF_FFFF_F000, size = 0x7000 };
        *(vfio_bitmap*)(unmap + 24) = new vfio_bitmap { pgsize = 4096, size = 8, data = &bits };
        Assert.Equal(-(int)Errno.EOVERFLOW, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)unmap));     // tracking off
        ((vfio_bitmap*)(unmap + 24))->pgsize = 8192;                                                                         // 3 pages of 8 KiB: 8 bytes still do
        Assert.Equal(-(int)Errno.EOVERFLOW, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)unmap));

        // A range that fits: now tracking off, then the page size, answer EINVAL.
        ((vfio_iommu_type1_dma_unmap*)unmap)->iova = 0x10000;
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)unmap));
        var start = new vfio_iommu_type1_dirty_bitmap { argsz = 8, flags = 1 };
        Assert.Equal(0, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_DIRTY_PAGES, (nint)(&start)));
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)unmap));
        ((vfio_bitmap*)(unmap + 24))->pgsize = 4096;
        Assert.Equal(0, _kernel.Ioctl(container, (uint)Constants.VFIO_IOMMU_UNMAP_DMA, (nint)unmap));                      // nothing mapped: 0 bytes
    }

    [Fact]
    public void TheLatencyTimer_ReadsZeroAfterAWrite_AsQemusDevicesAnswer()
    {
        // Seed 2925 of a 500-call --vfio run: vfio-pci passes PCI_LATENCY_TIMER writes to the device, and
        // QEMU's edu leaves it out of its write mask (pci_init_wmask; PCIe functions hardwire it to 0),
        // while the cache line size beside it takes the write.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        long at = (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40 | 0xC;
        uint written = 0x5A5A5A5A;
        Assert.Equal(4, _kernel.Pwrite(cdev, new ReadOnlySpan<byte>(&written, 4), at));
        byte* back = stackalloc byte[2];
        Assert.Equal(2, _kernel.Pread(cdev, new Span<byte>(back, 2), at));
        Assert.Equal(0x5A, back[0]);
        Assert.Equal(0, back[1]);
    }

    [Fact]
    public void AnUnboundCdev_RefusesRegionAccess_BeforeTouchingTheBuffer()
    {
        // vfio_main.c: vfio_device_fops_write is EINVAL without access_granted, whatever the buffer.
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Pwrite(cdev, new ReadOnlySpan<byte>((void*)0x10, 4), (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40 | 0xC));
        Assert.Equal(0, BindCdev(cdev));
        Assert.Equal(-(int)Errno.EINVAL, _kernel.Pwrite(cdev, new ReadOnlySpan<byte>((void*)0x10, 4), 12L << 40));
        Assert.Equal(-(int)Errno.EFAULT, _kernel.Pwrite(cdev, new ReadOnlySpan<byte>((void*)0x10, 4), (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40 | 0xC));
    }

    [Fact]
    public void QemusIntelIommu_AnswersAsTheGuestsKernelReadsIt()
    {
        // intel/iommu.c: intel_iommu_hw_info sets the errata flag on every unit and returns cap and ecap
        // (QEMU's: legacy mode, so no dirty tracking); the second stage takes IOMMU_HWPT_ALLOC_PASID.
        int cdev = Open(_node.CdevPath!, ORdwr);
        var bind = new vfio_device_bind_iommufd { argsz = (uint)sizeof(vfio_device_bind_iommufd), iommufd = _iommufd };
        Assert.Equal(0, _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, (nint)(&bind)));
        var vtd = default(iommu_hw_info_vtd);
        var info = new iommu_hw_info { size = (uint)sizeof(iommu_hw_info), dev_id = bind.out_devid, data_len = (uint)sizeof(iommu_hw_info_vtd), data_uptr = (ulong)(&vtd) };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_GET_HW_INFO, (nint)(&info)));
        Assert.Equal((uint)iommu_hw_info_vtd_flags.IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17, vtd.flags);
        Assert.Equal(0xd2008c222f0606UL, vtd.cap_reg);
        Assert.Equal(0xf00f4aUL, vtd.ecap_reg);
        Assert.Equal((ulong)iommufd_hw_capabilities.IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED, info.out_capabilities);

        var alloc = new iommu_ioas_alloc { size = (uint)sizeof(iommu_ioas_alloc) };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_IOAS_ALLOC, (nint)(&alloc)));
        var hwpt = new iommu_hwpt_alloc { size = (uint)sizeof(iommu_hwpt_alloc), dev_id = bind.out_devid, pt_id = alloc.out_ioas_id, flags = (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_PASID };
        Assert.Equal(0, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_HWPT_ALLOC, (nint)(&hwpt)));
        hwpt.flags = (uint)iommufd_hwpt_alloc_flags.IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
        Assert.Equal(-(int)Errno.EOPNOTSUPP, _kernel.Ioctl(_iommufd, (uint)Constants.IOMMU_HWPT_ALLOC, (nint)(&hwpt)));
    }

    [Fact]
    public void QemusEdu_HasQemusSubsystem_AndTheFirmwaresInterruptLineAndCommand()
    {
        // pci.c: a model that sets no subsystem gets 0x1af4:0x1100; the line (11) and the command bits are
        // what SeaBIOS wrote, which vfio-pci shows (pci_enable_device only adds memory).
        int cdev = Open(_node.CdevPath!, ORdwr);
        Assert.Equal(0, BindCdev(cdev));
        Span<byte> config = stackalloc byte[0x40];
        Assert.Equal(0x40, _kernel.Pread(cdev, config, (long)Constants.VFIO_PCI_CONFIG_REGION_INDEX << 40));
        Assert.Equal(0x1AF4, config[0x2C] | (config[0x2D] << 8));
        Assert.Equal(0x1100, config[0x2E] | (config[0x2F] << 8));
        Assert.Equal(11, config[0x3C]);
        Assert.Equal(0x0103, config[0x04] | (config[0x05] << 8));              // I/O, memory, SERR: the firmware's
    }

    private int Open(string path, int flags) => _kernel.Open(Encoding.ASCII.GetBytes(path + "\0"), flags, 0);

    private int GetDeviceFd(int group, string name)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = bytes)
        {
            return _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)p);
        }
    }

    /// <summary>The device's group opened and set to the test's iommufd, and the device opened through it.</summary>
    private (int Group, int Device) GroupAndDeviceOnTheIommufd()
    {
        int group = Open(_node.GroupPath, ORdwr);
        Assert.Equal(0, SetContainer(group, _iommufd));
        int device = GetDeviceFd(group, _node.PciName);
        Assert.True(device >= 0, $"GET_DEVICE_FD answered {device}");
        return (group, device);
    }

    private int SetContainer(int group, int fd) => _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_SET_CONTAINER, (nint)(&fd));

    /// <summary>The device's group opened and set to a new container whose backend is <paramref name="type"/>.</summary>
    private (int Group, int Container) GroupInType1Container(ulong type)
    {
        int group = Open(_node.GroupPath, ORdwr);
        int container = Open("/dev/vfio/vfio", ORdwr);
        Assert.Equal(0, SetContainer(group, container));
        Assert.Equal(0, _kernel.Ioctl(container, (uint)Constants.VFIO_SET_IOMMU, (nint)type));
        return (group, container);
    }

    private uint GroupStatus(int group)
    {
        var status = new vfio_group_status { argsz = (uint)sizeof(vfio_group_status) };
        Assert.Equal(0, _kernel.Ioctl(group, (uint)Constants.VFIO_GROUP_GET_STATUS, (nint)(&status)));
        return status.flags;
    }

    private int BindCdev(int cdev)
    {
        var bind = new vfio_device_bind_iommufd { argsz = (uint)sizeof(vfio_device_bind_iommufd), iommufd = _iommufd };
        return _kernel.Ioctl(cdev, (uint)Constants.VFIO_DEVICE_BIND_IOMMUFD, (nint)(&bind));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mprotect")]
    private static extern int Mprotect(nint address, nuint length, int protection);
}
