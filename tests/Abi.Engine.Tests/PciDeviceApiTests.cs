using System.Text;
using Abi.Engine.Devices;
using Abi.Interop;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Pci;
using static Abi.Engine.Tests.SysfsFiles;

namespace Abi.Engine.Tests;

/// <summary>
/// The runtime's device API from a PCI address, on the engine's machine: discovery through the
/// engine's sysfs view, and opening, mapping and DMA in every IOMMU mode.
/// </summary>
public sealed class PciDeviceApiTests
{
    private const ulong EduVendor = 0x1234, EduDevice_ = 0x11e8;

    [Fact]
    public void Discovery_ListsTheEngineFunctions_AsSysfsDescribesThem()
    {
        var kernel = new EmulatedKernel { EnableUnsafeNoIommu = true };
        kernel.AddDevice(new EduDevice());
        kernel.AddDevice(new EduDevice(), noIommu: true);

        IReadOnlyList<PciFunction> functions = PciFunction.List(kernel);
        Assert.Equal(["0000:00:03.0", "0000:00:04.0"], functions.Select(f => f.Address.ToString()));
        PciFunction edu = functions[0];
        Assert.Equal((ushort)EduVendor, edu.VendorId);
        Assert.Equal((ushort)EduDevice_, edu.DeviceId);
        Assert.Equal(0x00ff00u, edu.ClassCode);
        Assert.Equal("vfio-pci", edu.Driver);
        Assert.Equal(0, edu.IommuGroup);
        Assert.Equal("/dev/vfio/devices/vfio0", edu.VfioCdev);
        Assert.Null(functions[1].VfioCdev);                       // no-IOMMU devices have no cdev
        Assert.Equal(1, functions[1].IommuGroup);
        Assert.Empty(edu.GroupPeers(kernel));
        Assert.Null(PciFunction.Find(PciAddress.Parse("00:1f.7"), kernel));
    }

    [Theory]
    [InlineData(VfioIommuMode.Type1, ContainerBackend.Type1)]
    [InlineData(VfioIommuMode.Type1v2, ContainerBackend.Type1)]
    [InlineData(VfioIommuMode.Type1v2, ContainerBackend.Iommufd)]        // /dev/vfio/vfio served by iommufd's compat layer
    [InlineData(VfioIommuMode.IommufdCompatType1, ContainerBackend.Iommufd)]
    [InlineData(VfioIommuMode.IommufdCompatType1v2, ContainerBackend.Iommufd)]
    [InlineData(VfioIommuMode.Iommufd, ContainerBackend.Iommufd)]
    public void Open_InEveryMode_ReadsConfig_MapsMemory_AndTheDeviceDmasIntoIt(VfioIommuMode mode, ContainerBackend backend)
    {
        var kernel = new EmulatedKernel(backend);
        var edu = new EduDevice();
        kernel.AddDevice(edu);

        using (VfioPciDevice device = VfioPciDevice.Open("0000:00:03.0", mode, kernel))
        {
            Assert.Equal(mode, device.Mode);
            Assert.Equal((EduDevice_ << 16) | EduVendor, device.Device.ReadConfig32(0));
            device.Device.WriteConfig32(0x04, 0x6);                             // memory + bus master
            using var buffer = DmaBuffer.Allocate(kernel, 4096, preferHugePages: false);
            ulong iova = device.Dma!.Map(buffer);
            Assert.True(edu.Dma.Write(iova + 8, "through the IOMMU"u8));
            Assert.Equal("through the IOMMU", Encoding.ASCII.GetString(buffer.Span.Slice(8, 17)));
            device.Dma.Unmap(iova, 4096);
            Assert.False(edu.Dma.Write(iova + 8, [1]));                        // unmapped: a fault, not a write
        }

        // Everything it opened is closed again: the device can be opened anew.
        using VfioPciDevice again = VfioPciDevice.Open("0000:00:03.0", mode, kernel);
    }

    [Theory]
    [InlineData(VfioIommuMode.Type1, true)]
    [InlineData(VfioIommuMode.Type1v2, false)]
    [InlineData(VfioIommuMode.IommufdCompatType1, true)]
    [InlineData(VfioIommuMode.IommufdCompatType1v2, false)]
    [InlineData(VfioIommuMode.Iommufd, true)]
    [InlineData(VfioIommuMode.Iommufd, false)]
    public void TheEduDriver_OverTheDeviceApi_MapsItsBar_TakesItsInterrupt_AndDmas(VfioIommuMode mode, bool msix)
    {
        var kernel = new EmulatedKernel(mode is VfioIommuMode.Type1 or VfioIommuMode.Type1v2 ? ContainerBackend.Type1 : ContainerBackend.Iommufd);
        var edu = new EduDevice(msix: msix, functionReset: msix);         // edu-qemu: MSI only
        kernel.AddDevice(edu);
        using VfioPciDevice device = VfioPciDevice.Open(PciAddress.Parse("0000:00:03.0"), mode, kernel);
        using var memory = DmaBuffer.Allocate(kernel, 3 * 4096, preferHugePages: false);

        // edu's DMA engine takes 28-bit addresses (QEMU's dma_mask): a container maps at a low IOVA of
        // the driver's choosing (its IDmaMapper would use the buffer's address), an IOAS picks one.
        ulong iova = 0x10_0000;
        if (device.Dma is Abi.Runtime.Vfio.VfioContainer container)
        {
            container.MapDma(memory, iova);
        }
        else
        {
            iova = device.Dma!.Map(memory);
        }

        using var driver = new Abi.Samples.Edu.EduDriver(device.Device);
        Assert.Equal(msix ? Abi.Linux.Constants.VFIO_PCI_MSIX_IRQ_INDEX : Abi.Linux.Constants.VFIO_PCI_MSI_IRQ_INDEX, driver.InterruptIndex);

        byte[] payload = [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7))];
        payload.CopyTo(memory.Span);
        driver.Copy(iova, iova + (2 * 4096), 4096);                          // the device's own DMA engine, both ways
        Assert.Equal(payload, memory.Span.Slice(2 * 4096, 4096).ToArray());
        Assert.Equal(0x100u, driver.WaitForInterrupt(1000));                  // its DMA-done interrupt, through an eventfd
        Assert.Equal(0, edu.Dma.Faults);
    }

    [Fact]
    public void Open_InNoIommuMode_HasNothingToMap_AndTheDeviceReachesHostMemory()
    {
        var kernel = new EmulatedKernel { EnableUnsafeNoIommu = true };
        var edu = new EduDevice();
        kernel.AddDevice(edu, noIommu: true);
        using VfioPciDevice device = VfioPciDevice.Open("0000:00:03.0", VfioIommuMode.NoIommu, kernel);
        Assert.Null(device.Dma);
        device.Device.WriteConfig32(0x04, 0x6);
        using var buffer = DmaBuffer.Allocate(kernel, 4096, preferHugePages: false);
        Assert.True(edu.Dma.Write((ulong)buffer.Address, [0x5a]));
        Assert.Equal(0x5a, buffer.Span[0]);
    }

    [Fact]
    public void FieldErrors_SayWhatIsWrong_AndWhatToDo()
    {
        var kernel = new EmulatedKernel();
        kernel.AddDevice(new EduDevice());

        var missing = Assert.Throws<VfioSetupException>(() => VfioPciDevice.Open("0000:00:09.0", VfioIommuMode.Iommufd, kernel));
        Assert.Contains("no such PCI function", missing.Message, StringComparison.Ordinal);

        using VfioPciDevice first = VfioPciDevice.Open("0000:00:03.0", VfioIommuMode.Type1v2, kernel);
        var busy = Assert.Throws<VfioSetupException>(() => VfioPciDevice.Open("0000:00:03.0", VfioIommuMode.Type1v2, kernel));
        Assert.Contains("busy", busy.Message, StringComparison.Ordinal);

        // A device registered without an IOMMU cannot be opened in a mode that needs one.
        var noIommuKernel = new EmulatedKernel { EnableUnsafeNoIommu = true };
        noIommuKernel.AddDevice(new EduDevice(), noIommu: true);
        Assert.Throws<VfioSetupException>(() => VfioPciDevice.Open("0000:00:03.0", VfioIommuMode.Iommufd, noIommuKernel));
    }

    [Fact]
    public void Release_AndBind_MoveTheFunctionOutOfVfio_AndBack()
    {
        var kernel = new EmulatedKernel();
        kernel.AddDevice(new EduDevice());
        var address = PciAddress.Parse("0000:00:03.0");

        // Busy while open: the kernel's unbind would wait for the fds; the engine says EBUSY.
        using (VfioPciDevice open = VfioPciDevice.Open(address, VfioIommuMode.Iommufd, kernel))
        {
            var busy = Assert.Throws<VfioSetupException>(() => VfioPciDriver.Release(address, kernel));
            Assert.Contains("EBUSY", busy.Message, StringComparison.Ordinal);
        }

        VfioPciDriver.Release(address, kernel);
        PciFunction released = PciFunction.Find(address, kernel)!;
        Assert.Null(released.Driver);                                         // the engine has no other driver to take it
        Assert.Null(released.VfioCdev);
        Assert.Equal(0, released.IommuGroup);                                 // the IOMMU group stays; VFIO's nodes go
        Assert.Equal(-(int)Errno.ENOENT, kernel.Open("/dev/vfio/devices/vfio0\0"u8, LinuxConstants.O_RDWR, 0));
        Assert.Equal(-(int)Errno.ENOENT, kernel.Open("/dev/vfio/0\0"u8, LinuxConstants.O_RDWR, 0));
        var refused = Assert.Throws<VfioSetupException>(() => VfioPciDevice.Open(address, VfioIommuMode.Iommufd, kernel));
        Assert.Contains("bound to no driver", refused.Message, StringComparison.Ordinal);

        // vfio-pci matches only through driver_override: a bare bind is ENODEV.
        Assert.Equal(-(int)Errno.ENODEV, Write(kernel, "/sys/bus/pci/drivers/vfio-pci/bind", "0000:00:03.0\n"));
        Assert.Equal(-(int)Errno.EACCES, kernel.Open("/sys/bus/pci/drivers/vfio-pci/bind\0"u8, LinuxConstants.O_RDONLY, 0));   // write-only

        Assert.Null(VfioPciDriver.Bind(address, kernel));                    // it had no driver
        Assert.Equal("vfio-pci", PciFunction.Find(address, kernel)!.Driver);
        Assert.Equal("vfio-pci", Read(kernel, "/sys/bus/pci/devices/0000:00:03.0/driver_override"));
        using VfioPciDevice again = VfioPciDevice.Open(address, VfioIommuMode.Type1v2, kernel);
        Assert.Equal(-(int)Errno.EBUSY, Write(kernel, "/sys/bus/pci/drivers/vfio-pci/bind", "0000:00:03.0"));     // has a driver
        Assert.Equal(-(int)Errno.ENODEV, Write(kernel, "/sys/bus/pci/drivers_probe", "0000:00:1f.0"));
    }

    [Fact]
    public void RealSysfs_IsReadTheSameWay_AndAFunctionWithoutVfioIsRefusedWithItsDriver()
    {
        // This machine's own PCI functions, through the real kernel, against what .NET's file API reads.
        IReadOnlyList<PciFunction> functions = PciFunction.List(LinuxKernel.Instance);
        string[] expected = [.. Directory.GetFileSystemEntries(PciFunction.DevicesPath).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.Equal(expected, functions.Select(f => f.Address.ToString()));
        Assert.NotEmpty(functions);
        foreach (PciFunction f in functions)
        {
            string directory = $"{PciFunction.DevicesPath}/{f.Address}";
            Assert.Equal(Convert.ToUInt16(File.ReadAllText(directory + "/vendor").Trim(), 16), f.VendorId);
            Assert.Equal(Convert.ToUInt32(File.ReadAllText(directory + "/class").Trim(), 16), f.ClassCode);
            string? driver = new FileInfo(directory + "/driver").LinkTarget;
            Assert.Equal(driver is null ? null : Path.GetFileName(driver), f.Driver);
            if (f.Driver != "vfio-pci")
            {
                var e = Assert.Throws<VfioSetupException>(() => VfioPciDevice.Open(f.Address, VfioIommuMode.Iommufd, LinuxKernel.Instance));
                Assert.Contains($"bound to {f.Driver ?? "no driver"}", e.Message, StringComparison.Ordinal);
                Assert.Contains("driver_override", e.Message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void SysfsCalls_AnswerAsTheRealSysfsDoes()
    {
        // The same probe on this machine's first PCI function through the kernel and on the engine's.
        PciAddress real = PciFunction.List(LinuxKernel.Instance)[0].Address;
        var kernel = new EmulatedKernel();
        kernel.AddDevice(new EduDevice());
        Assert.Equal(Probe(LinuxKernel.Instance, real.ToString()), Probe(kernel, "0000:00:03.0"));
    }

    private static List<string> Probe(IKernel kernel, string address)
    {
        string function = $"/sys/bus/pci/devices/{address}";
        var answers = new List<string>();
        byte[] buffer = new byte[256];
        int n = kernel.ReadLink(Z(function), buffer);
        answers.Add("readlink function: " + (n < 0 ? ((Errno)(-n)).ToString() : Encoding.ASCII.GetString(buffer, 0, n).Replace(address, "<bdf>", StringComparison.Ordinal)));
        answers.Add("readlink vendor: " + Rc(kernel.ReadLink(Z(function + "/vendor"), buffer)));
        answers.Add("readlink missing: " + Rc(kernel.ReadLink(Z(function + "/no-such-file"), buffer)));
        answers.Add("readlink cut to 4: " + kernel.ReadLink(Z(function), buffer.AsSpan(0, 4)));
        answers.Add("open dir for writing: " + OpenRc(kernel, function, LinuxConstants.O_WRONLY));
        answers.Add("open vendor as a directory: " + OpenRc(kernel, function + "/vendor", LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY));
        answers.Add("open vendor for writing: " + OpenRc(kernel, function + "/vendor", LinuxConstants.O_WRONLY));
        answers.Add("open missing: " + OpenRc(kernel, function + "/no-such-file", LinuxConstants.O_RDONLY));
        answers.Add("create missing: " + OpenRc(kernel, function + "/no-such-file", LinuxConstants.O_WRONLY | LinuxConstants.O_CREAT));
        answers.Add("open the link, no follow: " + OpenRc(kernel, function, LinuxConstants.O_RDONLY | LinuxConstants.O_NOFOLLOW));
        answers.Add("vendor as a path's directory: " + OpenRc(kernel, function + "/vendor/x", LinuxConstants.O_RDONLY));

        int dir = kernel.Open(Z(function), LinuxConstants.O_RDONLY | LinuxConstants.O_DIRECTORY, 0);
        answers.Add("read a directory: " + Rc((int)kernel.Read(dir, buffer)));
        answers.Add("getdents64 into 8 bytes: " + Rc((int)kernel.GetDents64(dir, buffer.AsSpan(0, 8))));
        kernel.Close(dir);
        int vendor = kernel.Open(Z(function + "/vendor"), LinuxConstants.O_RDONLY, 0);
        answers.Add("getdents64 of a file: " + Rc((int)kernel.GetDents64(vendor, buffer)));
        long read = kernel.Read(vendor, buffer);
        answers.Add("vendor text: " + (read == 7 && buffer[0] == '0' && buffer[1] == 'x' && buffer[6] == '\n'));
        answers.Add("read at its end: " + kernel.Read(vendor, buffer));
        kernel.Close(vendor);
        return answers;
    }

    private static string OpenRc(IKernel kernel, string path, int flags)
    {
        int fd = kernel.Open(Z(path), flags, 0);
        if (fd >= 0)
        {
            kernel.Close(fd);
        }

        return Rc(fd);
    }

    private static string Rc(int rc) => rc < 0 ? ((Errno)(-rc)).ToString() : "ok";

}
