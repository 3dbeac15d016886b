using Abi.Engine.Devices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Vfio;
using static Abi.Engine.Tests.SysfsFiles;

namespace Abi.Engine.Tests;

/// <summary>
/// SR-IOV on the igb model as sysfs and vfio-pci manage it: sriov_numvfs (drivers/pci/iov.c) makes
/// VFs bound to vfio-pci, and the VF token (vfio_pci_core_match_token_uuid) decides who may open a VF
/// or its PF, through a cdev bind or a group's device name.
/// </summary>
public sealed class SriovTests
{
    private const string Pf = "0000:00:03.0", Vf = "0000:00:13.0";     // igb's first VF: routing id + 0x80

    private static readonly Guid s_token = Guid.Parse("52ac9bff-3a88-4fbd-901a-0d767c3b6c97");
    private static readonly Guid s_other = Guid.Parse("88594674-90a0-47a9-aea8-9d9b352ac08a");

    [Fact]
    public void SriovNumvfs_FollowsTheKernelsRules_AndMakesVfsBoundToVfioPci()
    {
        var kernel = new EmulatedKernel();
        kernel.AddDevice(new IgbDevice());
        string dir = $"/sys/bus/pci/devices/{Pf}";
        Assert.Equal("8", Read(kernel, $"{dir}/sriov_totalvfs"));
        Assert.Equal("0", Read(kernel, $"{dir}/sriov_numvfs"));
        Assert.Equal("128", Read(kernel, $"{dir}/sriov_offset"));
        Assert.Equal("2", Read(kernel, $"{dir}/sriov_stride"));
        Assert.Equal("10ca", Read(kernel, $"{dir}/sriov_vf_device"));

        Assert.Equal(-(int)Errno.ENOENT, Write(kernel, $"{dir}/sriov_numvfs", "1"));   // vfio-pci's enable_sriov is off
        Assert.Equal("N", Read(kernel, "/sys/module/vfio_pci/parameters/enable_sriov"));
        Assert.Equal(0, Write(kernel, "/sys/module/vfio_pci/parameters/enable_sriov", "Y\n"));
        Assert.Equal(-(int)Errno.EINVAL, Write(kernel, $"{dir}/sriov_numvfs", "one"));
        Assert.Equal(-(int)Errno.ERANGE, Write(kernel, $"{dir}/sriov_numvfs", "9"));
        Assert.Equal(0, Write(kernel, $"{dir}/sriov_numvfs", "2\n"));
        Assert.Equal(-(int)Errno.EBUSY, Write(kernel, $"{dir}/sriov_numvfs", "1"));     // disable first
        Assert.Equal(0, Write(kernel, $"{dir}/sriov_numvfs", "2"));                     // the same count: nothing

        Assert.Equal("2", Read(kernel, $"{dir}/sriov_numvfs"));
        Assert.Equal("../0000:00:13.0", ReadLink(kernel, $"{dir}/virtfn0"));
        Assert.Equal("../0000:00:13.2", ReadLink(kernel, $"{dir}/virtfn1"));
        Assert.Equal($"../{Pf}", ReadLink(kernel, $"/sys/bus/pci/devices/{Vf}/physfn"));
        Assert.Equal("0x10ca", Read(kernel, $"/sys/bus/pci/devices/{Vf}/device"));
        Assert.Equal("vfio-pci", Read(kernel, $"/sys/bus/pci/devices/{Vf}/driver_override"));
        Assert.EndsWith("/vfio-pci", ReadLink(kernel, $"/sys/bus/pci/devices/{Vf}/driver"), StringComparison.Ordinal);

        Assert.Equal(0, Write(kernel, $"{dir}/sriov_numvfs", "0"));
        Assert.Equal(-(int)Errno.ENOENT, kernel.Open(Z($"/sys/bus/pci/devices/{Vf}/vendor"), LinuxConstants.O_RDONLY, 0));
    }

    [Fact]
    public void AVf_OpensOnlyWithItsPfsToken_ThroughTheCdevAndTheGroup()
    {
        (EmulatedKernel kernel, _) = WithOneVf();
        using IommuFd iommufd = IommuFd.Open(kernel);

        // The PF's user sets the token by binding with it (no VF is in use yet).
        using VfioDevice pf = VfioDevice.OpenCdev("/dev/vfio/devices/vfio0", kernel);
        pf.BindIommufd(iommufd, s_token);

        using (VfioDevice vf = VfioDevice.OpenCdev("/dev/vfio/devices/vfio1", kernel))
        {
            Assert.Equal(Errno.EACCES, Assert.Throws<IoctlException>(() => vf.BindIommufd(iommufd)).Errno);           // none given
            Assert.Equal(Errno.EACCES, Assert.Throws<IoctlException>(() => vf.BindIommufd(iommufd, s_other)).Errno);  // the wrong one
            vf.BindIommufd(iommufd, s_token);

            // With a VF in use, the PF's next user must present the same token.
            using VfioDevice again = VfioDevice.OpenCdev("/dev/vfio/devices/vfio0", kernel);
            Assert.Equal(Errno.EACCES, Assert.Throws<IoctlException>(() => again.BindIommufd(iommufd, s_other)).Errno);
        }

        // The PF's user changes the token; the VF's group then wants the new one in the device name.
        pf.SetVfToken(s_other);
        using VfioContainer container = VfioContainer.Open(kernel, "/dev/iommu");
        using VfioGroup group = VfioGroup.Open(1, kernel);
        group.SetContainer(container);
        container.SetIommu(Constants.VFIO_TYPE1v2_IOMMU);
        Assert.Equal(Errno.EACCES, Assert.Throws<IoctlException>(() => group.GetDevice(Vf, s_token)).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<IoctlException>(() => group.GetDevice($"{Vf} vf_token=not-a-uuid")).Errno);
        Assert.Equal(Errno.EINVAL, Assert.Throws<IoctlException>(() => group.GetDevice($"{Vf} speed=fast")).Errno);
        Assert.Equal(Errno.ENODEV, Assert.Throws<IoctlException>(() => group.GetDevice($"{Vf}x")).Errno);
        using VfioDevice viaGroup = group.GetDevice(Vf, s_other);
    }

    [Fact]
    public void AVfsBars_AnswerWithMemoryDecodingCleared_AndItsMemoryBitIsVirtual()
    {
        // A VF has no memory enable of its own (pdev->no_command_memory): vfio-pci shows the bit set,
        // keeps what the user writes there virtually, and its BAR accesses never check it.
        (EmulatedKernel kernel, _) = WithOneVf();
        using IommuFd iommufd = IommuFd.Open(kernel);
        using VfioDevice pf = VfioDevice.OpenCdev("/dev/vfio/devices/vfio0", kernel);
        pf.BindIommufd(iommufd, s_token);
        using VfioDevice vf = VfioDevice.OpenCdev("/dev/vfio/devices/vfio1", kernel);
        vf.BindIommufd(iommufd, s_token);
        int fd = (int)vf.Fd.DangerousGetHandle();

        Assert.Equal(2u, vf.ReadConfig32(4) & 2);
        Assert.Equal(0u, vf.ReadConfig32(0x3C) & 0xFF00);                 // no INTx pin
        vf.WriteConfig32(4, 0);
        Assert.Equal(0u, vf.ReadConfig32(4) & 2);
        Assert.Equal(4, kernel.Pread(fd, new byte[4], 0));                 // BAR0 still answers
    }

    [Fact]
    public void ATokenWhereNoneIsTaken_IsEinval_AndTheTokenFeatureIsOnlyAPfs()
    {
        var kernel = new EmulatedKernel();
        kernel.AddDevice(new EduDevice());
        using IommuFd iommufd = IommuFd.Open(kernel);
        using VfioDevice edu = VfioDevice.OpenCdev("/dev/vfio/devices/vfio0", kernel);
        Assert.Equal(Errno.EINVAL, Assert.Throws<IoctlException>(() => edu.BindIommufd(iommufd, s_token)).Errno);
        edu.BindIommufd(iommufd);
        Assert.Equal(Errno.ENOTTY, Assert.Throws<IoctlException>(() => edu.SetVfToken(s_token)).Errno);
    }

    private static (EmulatedKernel Kernel, IgbDevice Pf) WithOneVf()
    {
        var kernel = new EmulatedKernel { VfioPciEnableSriov = true };
        var igb = new IgbDevice();
        kernel.AddDevice(igb);
        Assert.Equal(0, Write(kernel, $"/sys/bus/pci/devices/{Pf}/sriov_numvfs", "1"));
        return (kernel, igb);
    }
}
