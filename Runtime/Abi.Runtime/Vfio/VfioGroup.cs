using System.Globalization;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Vfio;

/// <summary>A legacy VFIO group (<c>/dev/vfio/N</c>): joins a container, then hands out device fds.</summary>
public sealed class VfioGroup : IDisposable
{
    private const string Kind = "group";

    private VfioGroup(FileDescriptor fd) => Fd = fd;

    /// <summary>The file descriptor.</summary>
    public FileDescriptor Fd { get; }

    /// <summary>The backend.</summary>
    public IKernel Kernel => Fd.Kernel;

    /// <summary>Opens group <paramref name="number"/>.</summary>
    public static VfioGroup Open(int number, IKernel? kernel = null) =>
        Open("/dev/vfio/" + number.ToString(CultureInfo.InvariantCulture), kernel);

    /// <summary>Opens a group node by path (<c>/dev/vfio/noiommu-0</c> for no-IOMMU groups).</summary>
    public static VfioGroup Open(string path, IKernel? kernel = null) => new(FileDescriptor.Open(kernel ?? Backend.Default, path));

    /// <summary>VFIO_GROUP_GET_STATUS: whether the group is viable (all its devices bound to VFIO) and has a container.</summary>
    public (bool Viable, bool ContainerSet) GetStatus()
    {
        var arg = new vfio_group_status();
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioGroupIoctls(Kernel, lease.Fd).TryGetStatus(ref arg), Kernel, "VFIO_GROUP_GET_STATUS", Kind);
        return ((arg.flags & Constants.VFIO_GROUP_FLAGS_VIABLE) != 0, (arg.flags & Constants.VFIO_GROUP_FLAGS_CONTAINER_SET) != 0);
    }

    /// <summary>VFIO_GROUP_SET_CONTAINER.</summary>
    public void SetContainer(VfioContainer container)
    {
        ArgumentNullException.ThrowIfNull(container);
        if (container.Kernel != Kernel)
        {
            throw new ArgumentException($"the container belongs to the {container.Kernel.Name} backend but the group to the {Kernel.Name} backend", nameof(container));
        }

        using FileDescriptor.Lease containerLease = container.Fd.Borrow();
        int fd = containerLease.Fd;
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioGroupIoctls(Kernel, lease.Fd).TrySetContainer(ref fd, out _), Kernel, "VFIO_GROUP_SET_CONTAINER", Kind);
    }

    /// <summary>VFIO_GROUP_UNSET_CONTAINER.</summary>
    public void UnsetContainer()
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioGroupIoctls(Kernel, lease.Fd).TryUnsetContainer(out _), Kernel, "VFIO_GROUP_UNSET_CONTAINER", Kind);
    }

    /// <summary>VFIO_GROUP_GET_DEVICE_FD for the device named <paramref name="name"/> (a PCI address such as <c>0000:00:03.0</c>).</summary>
    public VfioDevice GetDevice(string name) => GetDevice(name, null);

    /// <summary>
    /// VFIO_GROUP_GET_DEVICE_FD for <paramref name="name"/> presenting a VF token, as vfio-pci reads it
    /// from the name (<c>"0000:00:14.0 vf_token=&lt;uuid&gt;"</c>): see <see cref="VfioDevice.BindIommufd(IommuFd, Guid?)"/>.
    /// </summary>
    public VfioDevice GetDevice(string name, Guid? vfToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (vfToken is Guid token)
        {
            name = $"{name} vf_token={token:D}";
        }

        int fd;
        using (FileDescriptor.Lease lease = Fd.Borrow())
        {
            Errno errno = new VfioGroupIoctls(Kernel, lease.Fd).TryGetDeviceFd(NulTerminated(name), out fd);
            IoctlCheck.Ok(errno, Kernel, "VFIO_GROUP_GET_DEVICE_FD", Kind);
        }

        return VfioDevice.Adopt(FileDescriptor.Adopt(Kernel, fd, $"{Fd.Name}:{name}"));
    }

    /// <summary>Closes the group (leaving its container).</summary>
    public void Dispose() => Fd.Dispose();

    private static byte[] NulTerminated(string text)
    {
        byte[] bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(text) + 1];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }
}
