using System.Globalization;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Runtime.Pci;

/// <summary>
/// A PCI function opened through VFIO by its address, in one of the IOMMU modes: what a driver starts
/// from. It finds the function in sysfs, checks that vfio-pci has it, builds the container and group
/// or the iommufd and IOAS the mode asks for, and holds them until disposed. Failures met in the
/// field (no such function, another driver, no IOMMU group, a group that is not viable, no
/// permission, a busy device) come as <see cref="VfioSetupException"/> saying what to do.
/// </summary>
public sealed class VfioPciDevice : IDisposable
{
    private readonly IDisposable[] _owned;   // in the order they are closed

    private VfioPciDevice(PciFunction function, VfioIommuMode mode, VfioDevice device, IDmaMapper? dma, IDisposable[] owned)
    {
        Function = function;
        Mode = mode;
        Device = device;
        Dma = dma;
        _owned = owned;
    }

    /// <summary>The function as sysfs described it when it was opened.</summary>
    public PciFunction Function { get; }

    /// <summary>The IOMMU mode it was opened in.</summary>
    public VfioIommuMode Mode { get; }

    /// <summary>The device fd: config space, regions, interrupts, reset.</summary>
    public VfioDevice Device { get; }

    /// <summary>Where DMA mappings go: the IOAS (iommufd) or the container (type1 and compat); null in no-IOMMU mode, where nothing maps.</summary>
    public IDmaMapper? Dma { get; }

    /// <summary>Opens the function at <paramref name="address"/> in <paramref name="mode"/>.</summary>
    /// <exception cref="VfioSetupException">The function cannot be opened so; the message says why and what to do.</exception>
    public static VfioPciDevice Open(PciAddress address, VfioIommuMode mode, IKernel? kernel = null)
    {
        kernel ??= Backend.Default;
        PciFunction function = PciFunction.Find(address, kernel)
            ?? throw new VfioSetupException($"{address}: no such PCI function (nothing in {PciFunction.DevicesPath}/{address})");
        if (function.Driver != "vfio-pci")
        {
            throw new VfioSetupException(
                $"{address} is bound to {(function.Driver is null ? "no driver" : function.Driver)}, not vfio-pci; give it to vfio-pci: " +
                $"echo vfio-pci > /sys/bus/pci/devices/{address}/driver_override" +
                (function.Driver is null ? string.Empty : $"; echo {address} > /sys/bus/pci/drivers/{function.Driver}/unbind") +
                $"; echo {address} > /sys/bus/pci/drivers_probe");
        }

        var owned = new List<IDisposable>();
        try
        {
            return mode == VfioIommuMode.Iommufd ? OpenCdev(function, kernel, owned) : OpenGroup(function, mode, kernel, owned);
        }
        catch
        {
            for (int i = owned.Count - 1; i >= 0; i--)
            {
                owned[i].Dispose();
            }

            throw;
        }
    }

    /// <inheritdoc cref="Open(PciAddress, VfioIommuMode, IKernel?)"/>
    public static VfioPciDevice Open(string address, VfioIommuMode mode, IKernel? kernel = null) => Open(PciAddress.Parse(address), mode, kernel);

    /// <summary>Closes the device, then what it was reached through.</summary>
    public void Dispose()
    {
        foreach (IDisposable item in _owned)
        {
            item.Dispose();
        }
    }

    private static VfioPciDevice OpenCdev(PciFunction function, IKernel kernel, List<IDisposable> owned)
    {
        if (function.IommuGroup is null)
        {
            throw NoGroup(function);
        }

        string cdev = function.VfioCdev
            ?? throw new VfioSetupException($"{function.Address} has no VFIO cdev (no vfio-dev in sysfs): the kernel lacks CONFIG_VFIO_DEVICE_CDEV; use a group mode (Type1v2 or IommufdCompatType1v2)");
        IommuFd iommufd = Step(() => IommuFd.Open(kernel), function, "/dev/iommu");
        owned.Add(iommufd);
        VfioDevice device = Step(() => VfioDevice.OpenCdev(cdev, kernel), function, cdev);
        owned.Add(device);
        device.BindIommufd(iommufd);
        Ioas ioas = iommufd.AllocIoas();
        owned.Add(ioas);
        device.Attach(ioas.Id);
        return new VfioPciDevice(function, VfioIommuMode.Iommufd, device, ioas, [device, ioas, iommufd]);
    }

    private static VfioPciDevice OpenGroup(PciFunction function, VfioIommuMode mode, IKernel kernel, List<IDisposable> owned)
    {
        if (function.IommuGroup is not int group)
        {
            throw NoGroup(function);
        }

        bool noIommu = mode == VfioIommuMode.NoIommu;
        string containerPath = mode is VfioIommuMode.IommufdCompatType1 or VfioIommuMode.IommufdCompatType1v2 ? "/dev/iommu" : "/dev/vfio/vfio";
        string groupPath = (noIommu ? "/dev/vfio/noiommu-" : "/dev/vfio/") + group.ToString(CultureInfo.InvariantCulture);
        VfioContainer container = Step(() => VfioContainer.Open(kernel, containerPath), function, containerPath);
        owned.Add(container);
        VfioGroup vfioGroup = Step(() => VfioGroup.Open(groupPath, kernel), function, groupPath);
        owned.Add(vfioGroup);
        if (!vfioGroup.GetStatus().Viable)
        {
            IEnumerable<string> peers = function.GroupPeers(kernel).Select(p => $"{p.Address} ({p.Driver ?? "no driver"})");
            throw new VfioSetupException(
                $"IOMMU group {group} of {function.Address} is not viable: every device in it must be bound to vfio-pci (or to no driver); " +
                $"the others are {string.Join(", ", peers)}");
        }

        vfioGroup.SetContainer(container);
        uint type = mode switch
        {
            VfioIommuMode.Type1 or VfioIommuMode.IommufdCompatType1 => Constants.VFIO_TYPE1_IOMMU,
            VfioIommuMode.NoIommu => Constants.VFIO_NOIOMMU_IOMMU,
            _ => Constants.VFIO_TYPE1v2_IOMMU,
        };
        container.SetIommu(type);
        VfioDevice device = Step(() => vfioGroup.GetDevice(function.Address.ToString()), function, groupPath);
        owned.Add(device);
        return new VfioPciDevice(function, mode, device, noIommu ? null : container, [device, vfioGroup, container]);
    }

    private static VfioSetupException NoGroup(PciFunction function) => new(
        $"{function.Address} has no IOMMU group: this machine gives it no IOMMU (none in the hardware, VT-d or AMD-Vi off in firmware or on the kernel command line, " +
        "or a VM without a vIOMMU). VFIO can then only run it in no-IOMMU mode, where nothing isolates its DMA: set " +
        "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode to Y before binding it to vfio-pci, and open it with VfioIommuMode.NoIommu (needs CAP_SYS_RAWIO)");

    // Turns the errors of opening a node into what they mean for a driver writer.
    private static T Step<T>(Func<T> open, PciFunction function, string path)
    {
        try
        {
            return open();
        }
        catch (SyscallException e) when (e.Errno is Errno.EPERM or Errno.EACCES)
        {
            throw new VfioSetupException($"{path}: not permitted ({e.Errno}); VFIO nodes need root or a udev rule giving this user the group's node{(path.Contains("noiommu", StringComparison.Ordinal) ? ", and no-IOMMU mode needs CAP_SYS_RAWIO" : string.Empty)}", e);
        }
        catch (SyscallException e) when (e.Errno == Errno.ENOENT)
        {
            throw new VfioSetupException($"{path}: no such node; is the vfio{(path.StartsWith("/dev/iommu", StringComparison.Ordinal) ? " iommufd (CONFIG_IOMMUFD)" : string.Empty)} module loaded?", e);
        }
        catch (SyscallException e) when (e.Errno == Errno.EBUSY)
        {
            throw new VfioSetupException($"{function.Address}: busy ({path}); another process, or another handle in this one, has the device or its group open", e);
        }
        catch (IoctlException e) when (e.Errno == Errno.EBUSY)
        {
            throw new VfioSetupException($"{function.Address}: busy; the device is open through another group or cdev handle", e);
        }
    }
}
