using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Vfio;

/// <summary>
/// An iommufd context (<c>/dev/iommu</c>): the owner of IOAS, HWPT and the other objects. Objects are
/// destroyed when their wrapper is disposed, and all of them when the context is.
/// </summary>
public sealed class IommuFd : IDisposable
{
    private const string Kind = "iommufd";

    private IommuFd(FileDescriptor fd) => Fd = fd;

    /// <summary>The file descriptor.</summary>
    public FileDescriptor Fd { get; }

    /// <summary>The backend.</summary>
    public IKernel Kernel => Fd.Kernel;

    /// <summary>Opens <paramref name="path"/> through <paramref name="kernel"/> (default: <see cref="Backend.Default"/>).</summary>
    /// <exception cref="SyscallException">The open failed; on a machine without iommufd the message names the engine.</exception>
    public static IommuFd Open(IKernel? kernel = null, string path = "/dev/iommu") =>
        new(FileDescriptor.Open(kernel ?? Backend.Default, path));

    /// <summary>Allocates an I/O address space.</summary>
    public Ioas AllocIoas()
    {
        var arg = new iommu_ioas_alloc();
        using (FileDescriptor.Lease lease = Fd.Borrow())
        {
            IoctlCheck.Ok(new IommufdIoctls(Kernel, lease.Fd).TryIoasAlloc(ref arg), Kernel, "IOMMU_IOAS_ALLOC", Kind);
        }

        return new Ioas(this, arg.out_ioas_id);
    }

    /// <summary>Allocates a hardware page table for <paramref name="deviceId"/> on <paramref name="parentId"/> (an IOAS).</summary>
    public Hwpt AllocHwpt(uint deviceId, uint parentId, iommufd_hwpt_alloc_flags flags = 0)
    {
        var arg = new iommu_hwpt_alloc { flags = (uint)flags, dev_id = deviceId, pt_id = parentId };
        using (FileDescriptor.Lease lease = Fd.Borrow())
        {
            IoctlCheck.Ok(new IommufdIoctls(Kernel, lease.Fd).TryHwptAlloc(ref arg), Kernel, "IOMMU_HWPT_ALLOC", Kind);
        }

        return new Hwpt(this, arg.out_hwpt_id);
    }

    /// <summary>Reads a global option (<c>IOMMU_OPTION_OP_GET</c>).</summary>
    public ulong GetOption(iommufd_option option, uint objectId = 0)
    {
        var arg = new iommu_option { option_id = (uint)option, op = (ushort)iommufd_option_ops.IOMMU_OPTION_OP_GET, object_id = objectId };
        Option(ref arg);
        return arg.val64;
    }

    /// <summary>Sets a global option (<c>IOMMU_OPTION_OP_SET</c>).</summary>
    public void SetOption(iommufd_option option, ulong value, uint objectId = 0)
    {
        var arg = new iommu_option { option_id = (uint)option, op = (ushort)iommufd_option_ops.IOMMU_OPTION_OP_SET, object_id = objectId, val64 = value };
        Option(ref arg);
    }

    /// <summary>Destroys object <paramref name="id"/> (<c>IOMMU_DESTROY</c>).</summary>
    public void Destroy(uint id)
    {
        var arg = new iommu_destroy { id = id };
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Kernel, lease.Fd).TryDestroy(ref arg), Kernel, "IOMMU_DESTROY", Kind);
    }

    /// <summary>Closes the context, destroying every object in it.</summary>
    public void Dispose() => Fd.Dispose();

    private void Option(ref iommu_option arg)
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Kernel, lease.Fd).TryOption(ref arg), Kernel, "IOMMU_OPTION", Kind);
    }
}
