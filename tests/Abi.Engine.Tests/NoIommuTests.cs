using Abi.Engine.Devices;
using Abi.Engine.Iommufd;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>No-IOMMU mode (drivers/vfio/group.c and vfio_main.c, CONFIG_VFIO_NOIOMMU): only when enabled, noiommu-N groups, no mapping ioctls, host addresses for DMA.</summary>
public sealed unsafe class NoIommuTests
{
    [Fact]
    public void NoIommuDevices_NeedTheUnsafeSwitch()
    {
        var kernel = new EmulatedKernel(ContainerBackend.Type1);
        Assert.Throws<InvalidOperationException>(() => kernel.AddDevice(new EduDevice(), noIommu: true));
        using VfioContainer container = VfioContainer.Open(kernel);
        Assert.False(container.CheckExtension(Constants.VFIO_NOIOMMU_IOMMU));
    }

    [Theory]
    [InlineData(ContainerBackend.Type1)]
    [InlineData(ContainerBackend.Iommufd)]
    public void NoIommuGroup_DmasToHostAddresses_AndHasNoMappingIoctls(ContainerBackend backend)
    {
        var kernel = new EmulatedKernel(backend) { EnableUnsafeNoIommu = true };
        var edu = new EduDevice();
        var node = kernel.AddDevice(edu, noIommu: true);
        Assert.Null(node.CdevPath);
        Assert.StartsWith("/dev/vfio/noiommu-", node.GroupPath, StringComparison.Ordinal);

        using var memory = DmaBuffer.Allocate(kernel, 4096, preferHugePages: false);
        using VfioContainer container = VfioContainer.Open(kernel);
        Assert.True(container.CheckExtension(Constants.VFIO_NOIOMMU_IOMMU));
        using VfioGroup group = VfioGroup.Open(node.GroupPath, kernel);
        group.SetContainer(container);
        container.SetIommu(Constants.VFIO_NOIOMMU_IOMMU);
        int fd = (int)container.Fd.DangerousGetHandle();
        var map = new vfio_iommu_type1_dma_map { argsz = 32, flags = 3, vaddr = (ulong)memory.Address, iova = 0x10000, size = 4096 };
        Assert.Equal(backend == ContainerBackend.Type1 ? -(int)Errno.ENOTTY : -(int)Errno.ENODEV, kernel.Ioctl(fd, Constants.VFIO_IOMMU_MAP_DMA, (nint)(&map)));

        using VfioDevice device = group.GetDevice(node.PciName);
        device.WriteConfig32(0x04, 0x6);
        Assert.True(edu.Dma.Write((ulong)memory.Address + 10, [1, 2, 3]));             // the DMA address is the host address
        Assert.Equal([1, 2, 3], memory.Slice(10, 3).ToArray());
        Assert.False(edu.Dma.Write(0x1000, [1]));                                         // memory the engine does not know
        Assert.Equal(IommuFaultReason.UnknownMemory, edu.Dma.LastFault!.Value.Reason);
    }

    [Fact]
    public void AContainersGroups_AllowOnlyTheirKindOfBackend()
    {
        // container.c: vfio_iommu_driver_allowed. With groups in it, a container polls and opens only
        // vfio-noiommu for no-IOMMU groups and only the others (type1) otherwise, in CHECK_EXTENSION and
        // in SET_IOMMU, where no allowed backend claiming the type is ENODEV.
        var kernel = new EmulatedKernel(ContainerBackend.Type1) { EnableUnsafeNoIommu = true };
        EmulatedDeviceInfo fake = kernel.AddDevice(new EduDevice(), noIommu: true);
        EmulatedDeviceInfo real = kernel.AddDevice(new EduDevice());

        using VfioContainer noIommu = VfioContainer.Open(kernel);
        Assert.True(noIommu.CheckExtension(Constants.VFIO_TYPE1v2_IOMMU));          // no group yet: every backend answers
        using VfioGroup fakeGroup = VfioGroup.Open(fake.GroupPath, kernel);
        fakeGroup.SetContainer(noIommu);
        Assert.False(noIommu.CheckExtension(Constants.VFIO_TYPE1v2_IOMMU));
        Assert.True(noIommu.CheckExtension(Constants.VFIO_NOIOMMU_IOMMU));
        int fd = (int)noIommu.Fd.DangerousGetHandle();
        Assert.Equal(-(int)Errno.ENODEV, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_TYPE1v2_IOMMU));
        Assert.Equal(-(int)Errno.ENODEV, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_UNMAP_ALL));

        using VfioContainer type1 = VfioContainer.Open(kernel);
        Assert.True(type1.CheckExtension(Constants.VFIO_NOIOMMU_IOMMU));
        using VfioGroup realGroup = VfioGroup.Open(real.GroupPath, kernel);
        realGroup.SetContainer(type1);
        Assert.False(type1.CheckExtension(Constants.VFIO_NOIOMMU_IOMMU));
        fd = (int)type1.Fd.DangerousGetHandle();
        Assert.Equal(-(int)Errno.ENODEV, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_NOIOMMU_IOMMU));
        Assert.Equal(-(int)Errno.EINVAL, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_UNMAP_ALL));   // type1 claims 9, its open refuses it
        Assert.Equal(0, kernel.Ioctl(fd, Constants.VFIO_SET_IOMMU, (nint)Constants.VFIO_TYPE1v2_IOMMU));
    }

    [Fact]
    public void ThroughAnIommufd_ANoIommuDevice_OpensOnlyWithoutACompatIoas()
    {
        // group.c: vfio_df_group_open refuses a no-IOMMU device's first open through an iommufd that has
        // a compat IOAS (EPERM: the user asked for translation it cannot have).
        var kernel = new EmulatedKernel(ContainerBackend.Iommufd) { EnableUnsafeNoIommu = true };
        EmulatedDeviceInfo node = kernel.AddDevice(new EduDevice(), noIommu: true);
        using IommuFd iommufd = IommuFd.Open(kernel);
        using VfioGroup group = VfioGroup.Open(node.GroupPath, kernel);
        int fd = (int)iommufd.Fd.DangerousGetHandle();
        int groupFd = (int)group.Fd.DangerousGetHandle();
        Assert.Equal(0, kernel.Ioctl(groupFd, Constants.VFIO_GROUP_SET_CONTAINER, (nint)(&fd)));

        var vfioIoas = new iommu_vfio_ioas { size = (uint)sizeof(iommu_vfio_ioas), ioas_id = iommufd.AllocIoas().Id, op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_SET };
        Assert.Equal(0, kernel.Ioctl(fd, Constants.IOMMU_VFIO_IOAS, (nint)(&vfioIoas)));
        byte[] name = System.Text.Encoding.ASCII.GetBytes(node.PciName + "\0");
        fixed (byte* n = name)
        {
            Assert.Equal(-(int)Errno.EPERM, kernel.Ioctl(groupFd, Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)n));
            vfioIoas.op = (ushort)iommufd_vfio_ioas_op.IOMMU_VFIO_IOAS_CLEAR;
            Assert.Equal(0, kernel.Ioctl(fd, Constants.IOMMU_VFIO_IOAS, (nint)(&vfioIoas)));
            int device = kernel.Ioctl(groupFd, Constants.VFIO_GROUP_GET_DEVICE_FD, (nint)n);
            Assert.True(device >= 0, $"GET_DEVICE_FD answered {device}");
            Assert.Equal(0, kernel.Close(device));
        }
    }
}
