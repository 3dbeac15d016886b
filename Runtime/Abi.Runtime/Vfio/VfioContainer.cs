using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;

namespace Abi.Runtime.Vfio;

/// <summary>
/// The legacy VFIO container (<c>/dev/vfio/vfio</c>): groups join it, then an IOMMU model is set and
/// DMA is mapped with MAP_DMA/UNMAP_DMA. Served by the type1 driver, or by iommufd's compatibility layer.
/// </summary>
public sealed class VfioContainer : IDisposable, IDmaMapper
{
    private const string Kind = "container";

    private VfioContainer(FileDescriptor fd) => Fd = fd;

    /// <summary>The file descriptor.</summary>
    public FileDescriptor Fd { get; }

    /// <summary>The backend.</summary>
    public IKernel Kernel => Fd.Kernel;

    /// <summary>Opens the container node and checks that it speaks VFIO (VFIO_GET_API_VERSION).</summary>
    /// <exception cref="Abi.Interop.IoctlException">The file is not a VFIO container (ENOTTY) or speaks another API version.</exception>
    public static VfioContainer Open(IKernel? kernel = null, string path = "/dev/vfio/vfio")
    {
        var container = new VfioContainer(FileDescriptor.Open(kernel ?? Backend.Default, path));
        try
        {
            int version = container.ApiVersion;
            if (version != Constants.VFIO_API_VERSION)
            {
                throw new Abi.Interop.IoctlException("VFIO_GET_API_VERSION", Kind, Abi.Interop.Errno.EINVAL, $"API version {version}, expected {Constants.VFIO_API_VERSION}");
            }

            return container;
        }
        catch
        {
            container.Dispose();
            throw;
        }
    }

    /// <summary>VFIO_GET_API_VERSION.</summary>
    public int ApiVersion
    {
        get
        {
            using FileDescriptor.Lease lease = Fd.Borrow();
            IoctlCheck.Ok(new VfioContainerIoctls(Kernel, lease.Fd).TryGetApiVersion(out int version), Kernel, "VFIO_GET_API_VERSION", Kind);
            return version;
        }
    }

    /// <summary>VFIO_CHECK_EXTENSION: whether an IOMMU model or feature (<c>VFIO_TYPE1v2_IOMMU</c>...) is supported.</summary>
    public bool CheckExtension(uint extension)
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioContainerIoctls(Kernel, lease.Fd).TryCheckExtension((nint)extension, out int result), Kernel, "VFIO_CHECK_EXTENSION", Kind);
        return result > 0;
    }

    /// <summary>VFIO_SET_IOMMU: picks the IOMMU model, once a group has joined.</summary>
    public void SetIommu(uint type)
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioContainerIoctls(Kernel, lease.Fd).TrySetIommu((nint)type, out _), Kernel, "VFIO_SET_IOMMU", Kind);
    }

    /// <summary>VFIO_IOMMU_GET_INFO: the supported IOMMU page sizes (a bitmap of sizes).</summary>
    public ulong GetIovaPageSizes()
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        using Abi.Interop.CapabilityBuffer<vfio_iommu_type1_info> info = new VfioContainerIoctls(Kernel, lease.Fd).IommuGetInfoWithCapabilities(default);
        return info.Value.iova_pgsizes;
    }

    /// <summary>Maps <paramref name="buffer"/> at an IOVA equal to its user address (DPDK's "IOVA as VA" mode) and returns it.</summary>
    ulong IDmaMapper.Map(DmaBuffer buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        MapDma(buffer, (ulong)buffer.Address);
        return (ulong)buffer.Address;
    }

    /// <inheritdoc/>
    void IDmaMapper.Unmap(ulong iova, ulong length) => UnmapDma(iova, length);

    /// <summary>VFIO_IOMMU_MAP_DMA of a DMA buffer at <paramref name="iova"/>, readable and writable by the device.</summary>
    public void MapDma(DmaBuffer buffer, ulong iova)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        MapDma(buffer.Address, (ulong)buffer.Length, iova, Constants.VFIO_DMA_MAP_FLAG_READ | Constants.VFIO_DMA_MAP_FLAG_WRITE);
    }

    /// <summary>VFIO_IOMMU_MAP_DMA.</summary>
    public void MapDma(nint vaddr, ulong size, ulong iova, uint flags)
    {
        var arg = new vfio_iommu_type1_dma_map { flags = flags, vaddr = (ulong)vaddr, iova = iova, size = size };
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioContainerIoctls(Kernel, lease.Fd).TryIommuMapDma(ref arg), Kernel, "VFIO_IOMMU_MAP_DMA", Kind);
    }

    /// <summary>VFIO_IOMMU_UNMAP_DMA; returns the bytes unmapped (the kernel writes the size back).</summary>
    public ulong UnmapDma(ulong iova, ulong size, uint flags = 0)
    {
        var arg = new vfio_iommu_type1_dma_unmap { flags = flags, iova = iova, size = size };
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioContainerIoctls(Kernel, lease.Fd).TryIommuUnmapDma(ref arg), Kernel, "VFIO_IOMMU_UNMAP_DMA", Kind);
        return arg.size;
    }

    /// <summary>Closes the container.</summary>
    public void Dispose() => Fd.Dispose();
}
