using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Vfio;

/// <summary>
/// A VFIO device: a cdev (<c>/dev/vfio/devices/vfioN</c>, bound to an iommufd) or a device fd from a
/// legacy group. Regions are read with pread/pwrite at their VFIO offsets or mapped as
/// <see cref="MmioRegion"/>s; interrupts arrive on eventfds.
/// </summary>
public sealed unsafe class VfioDevice : IDisposable
{
    private const string Kind = "device";

    private VfioRegionInfo? _config;

    private VfioDevice(FileDescriptor fd) => Fd = fd;

    /// <summary>Takes over a device fd opened elsewhere (a cdev, or one from VFIO_GROUP_GET_DEVICE_FD); disposing the device closes it.</summary>
    public static VfioDevice Adopt(FileDescriptor fd) => new(fd ?? throw new ArgumentNullException(nameof(fd)));

    /// <summary>The file descriptor.</summary>
    public FileDescriptor Fd { get; }

    /// <summary>The backend.</summary>
    public IKernel Kernel => Fd.Kernel;

    /// <summary>Opens a device cdev.</summary>
    public static VfioDevice OpenCdev(string path, IKernel? kernel = null) => new(FileDescriptor.Open(kernel ?? Backend.Default, path));

    /// <summary>Binds the cdev to <paramref name="iommufd"/> and returns the device's id in that context.</summary>
    public uint BindIommufd(IommuFd iommufd) => BindIommufd(iommufd, null);

    /// <summary>
    /// Binds the cdev to <paramref name="iommufd"/> presenting a VF token (VFIO_DEVICE_BIND_FLAG_TOKEN):
    /// a VF whose PF vfio-pci has needs the token its PF's user set, and a PF whose VFs are in use needs
    /// theirs; a PF whose VFs nobody uses takes <paramref name="vfToken"/> as its new token.
    /// </summary>
    public unsafe uint BindIommufd(IommuFd iommufd, Guid? vfToken)
    {
        ArgumentNullException.ThrowIfNull(iommufd);
        if (iommufd.Kernel != Kernel)
        {
            throw new ArgumentException($"the iommufd belongs to the {iommufd.Kernel.Name} backend but the device to the {Kernel.Name} backend", nameof(iommufd));
        }

        using FileDescriptor.Lease iommu = iommufd.Fd.Borrow();
        var arg = new vfio_device_bind_iommufd { iommufd = iommu.Fd };
        Span<byte> uuid = stackalloc byte[16];
        if (vfToken is Guid token)
        {
            token.TryWriteBytes(uuid, bigEndian: true, out _);   // uuid_t: the bytes in the order the text shows them
            arg.flags = Constants.VFIO_DEVICE_BIND_FLAG_TOKEN;
            arg.token_uuid_ptr = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetReference(uuid));
        }

        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryBindIommufd(ref arg), Kernel, "VFIO_DEVICE_BIND_IOMMUFD", Kind);
        return arg.out_devid;
    }

    /// <summary>
    /// Sets an SR-IOV PF's VF token (VFIO_DEVICE_FEATURE_PCI_VF_TOKEN): the UUID its VFs' users must
    /// present. ENOTTY on a function that is not an SR-IOV PF.
    /// </summary>
    public unsafe void SetVfToken(Guid token)
    {
        Span<byte> buffer = stackalloc byte[sizeof(vfio_device_feature) + 16];
        var head = new vfio_device_feature
        {
            argsz = (uint)buffer.Length,
            flags = (uint)(Constants.VFIO_DEVICE_FEATURE_SET | Constants.VFIO_DEVICE_FEATURE_PCI_VF_TOKEN),
        };
        MemoryMarshal.Write(buffer, in head);
        token.TryWriteBytes(buffer[sizeof(vfio_device_feature)..], bigEndian: true, out _);
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryFeature(buffer), Kernel, "VFIO_DEVICE_FEATURE(PCI_VF_TOKEN)", Kind);
    }

    /// <summary>
    /// Exports ranges of a memory BAR as a dma-buf (VFIO_DEVICE_FEATURE_DMA_BUF), for peer-to-peer DMA:
    /// another device's IOAS maps it with <see cref="Ioas.MapFile"/> (one range only), and DMA to that
    /// IOVA reaches this BAR. Offsets and lengths are page multiples inside the BAR. The buffer is
    /// revoked while this device's memory does not decode (command register, reset, low power) and
    /// for good once the device is closed; iommufd then holds nothing of it.
    /// </summary>
    public unsafe FileDescriptor ExportDmaBuf(uint bar, ReadOnlySpan<(ulong Offset, ulong Length)> ranges)
    {
        int size = sizeof(vfio_device_feature) + sizeof(vfio_device_feature_dma_buf) + (ranges.Length * sizeof(vfio_region_dma_range));
        byte[] buffer = new byte[size];
        MemoryMarshal.Write(buffer, new vfio_device_feature
        {
            argsz = (uint)size,
            flags = (uint)(Constants.VFIO_DEVICE_FEATURE_GET | Constants.VFIO_DEVICE_FEATURE_DMA_BUF),
        });
        MemoryMarshal.Write(buffer.AsSpan(sizeof(vfio_device_feature)), new vfio_device_feature_dma_buf
        {
            region_index = bar,
            open_flags = (uint)(LinuxConstants.O_RDWR | LinuxConstants.O_CLOEXEC),
            nr_ranges = (uint)ranges.Length,
        });
        Span<vfio_region_dma_range> slots = MemoryMarshal.Cast<byte, vfio_region_dma_range>(buffer.AsSpan(sizeof(vfio_device_feature) + sizeof(vfio_device_feature_dma_buf)));
        for (int i = 0; i < ranges.Length; i++)
        {
            slots[i] = new vfio_region_dma_range { offset = ranges[i].Offset, length = ranges[i].Length };
        }

        using FileDescriptor.Lease lease = Fd.Borrow();
        int fd;
        fixed (byte* argument = buffer)
        {
            fd = Kernel.Ioctl(lease.Fd, Constants.VFIO_DEVICE_FEATURE, (nint)argument);
        }

        IoctlCheck.Ok(fd < 0 ? (Errno)(-fd) : Errno.None, Kernel, "VFIO_DEVICE_FEATURE(DMA_BUF)", Kind);
        return FileDescriptor.Adopt(Kernel, fd, $"{Fd.Name}:dmabuf");
    }

    /// <summary>Attaches the bound device to an IOAS or HWPT (replacing any current attachment). Returns the HWPT id in use.</summary>
    public uint Attach(uint ioasOrHwptId)
    {
        var arg = new vfio_device_attach_iommufd_pt { pt_id = ioasOrHwptId };
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryAttachIommufdPt(ref arg), Kernel, "VFIO_DEVICE_ATTACH_IOMMUFD_PT", Kind);
        return arg.pt_id;
    }

    /// <summary>Detaches the device from its IOAS or HWPT: its DMA is blocked afterwards.</summary>
    public void Detach()
    {
        var arg = new vfio_device_detach_iommufd_pt();
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryDetachIommufdPt(ref arg), Kernel, "VFIO_DEVICE_DETACH_IOMMUFD_PT", Kind);
    }

    /// <summary>VFIO_DEVICE_GET_INFO.</summary>
    public VfioDeviceInfo GetInfo()
    {
        var arg = new vfio_device_info();
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryGetInfo(ref arg), Kernel, "VFIO_DEVICE_GET_INFO", Kind);
        return new VfioDeviceInfo(arg.flags, arg.num_regions, arg.num_irqs);
    }

    /// <summary>VFIO_DEVICE_GET_REGION_INFO with its capability chain (argsz negotiated).</summary>
    public VfioRegionInfo GetRegionInfo(uint index)
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        using CapabilityBuffer<vfio_region_info> info = new VfioDeviceIoctls(Kernel, lease.Fd).GetRegionInfoWithCapabilities(new vfio_region_info { index = index });
        var areas = new List<(ulong, ulong)>();
        ref vfio_region_info region = ref info.Value;
        if ((region.flags & Constants.VFIO_REGION_INFO_FLAG_CAPS) != 0)
        {
            foreach (Capability cap in info.Capabilities(region.cap_offset))
            {
                if (cap.Id != Constants.VFIO_REGION_INFO_CAP_SPARSE_MMAP || cap.Bytes.Length < sizeof(vfio_region_info_cap_sparse_mmap))
                {
                    continue;
                }

                ref readonly vfio_region_info_cap_sparse_mmap sparse = ref MemoryMarshal.AsRef<vfio_region_info_cap_sparse_mmap>(cap.Bytes);
                ReadOnlySpan<vfio_region_sparse_mmap_area> list = MemoryMarshal.Cast<byte, vfio_region_sparse_mmap_area>(cap.Bytes[vfio_region_info_cap_sparse_mmap.AreasOffset..]);
                for (int i = 0; i < Math.Min((int)sparse.nr_areas, list.Length); i++)
                {
                    areas.Add((list[i].offset, list[i].size));
                }
            }
        }

        return new VfioRegionInfo(region.index, region.flags, region.size, region.offset, areas);
    }

    /// <summary>VFIO_DEVICE_GET_IRQ_INFO.</summary>
    public VfioIrqInfo GetIrqInfo(uint index)
    {
        var arg = new vfio_irq_info { index = index };
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryGetIrqInfo(ref arg), Kernel, "VFIO_DEVICE_GET_IRQ_INFO", Kind);
        return new VfioIrqInfo(arg.index, arg.flags, arg.count);
    }

    /// <summary>Routes interrupts <paramref name="start"/>.. of <paramref name="index"/> to <paramref name="triggers"/> (VFIO_IRQ_SET_DATA_EVENTFD | ACTION_TRIGGER).</summary>
    public void SetIrqTriggers(uint index, uint start, ReadOnlySpan<EventFd> triggers)
    {
        const int MaxTriggers = 2048;   // MSI-X allows 2048 vectors per function
        ArgumentOutOfRangeException.ThrowIfGreaterThan(triggers.Length, MaxTriggers, nameof(triggers));
        Span<byte> buffer = stackalloc byte[vfio_irq_set.SizeWithData(triggers.Length * sizeof(int))];
        buffer.Clear();
        ref vfio_irq_set set = ref vfio_irq_set.FromBuffer(buffer);
        set.flags = Constants.VFIO_IRQ_SET_DATA_EVENTFD | Constants.VFIO_IRQ_SET_ACTION_TRIGGER;
        set.index = index;
        set.start = start;
        set.count = (uint)triggers.Length;
        Span<int> fds = MemoryMarshal.Cast<byte, int>(vfio_irq_set.GetData(buffer));
        Span<bool> added = stackalloc bool[triggers.Length];
        try
        {
            for (int i = 0; i < triggers.Length; i++)
            {
                triggers[i].Fd.DangerousAddRef(ref added[i]);
                fds[i] = (int)triggers[i].Fd.DangerousGetHandle();
            }

            using FileDescriptor.Lease lease = Fd.Borrow();
            IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TrySetIrqs(buffer), Kernel, "VFIO_DEVICE_SET_IRQS", Kind);
        }
        finally
        {
            for (int i = 0; i < triggers.Length; i++)
            {
                if (added[i])
                {
                    triggers[i].Fd.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Disables every interrupt of <paramref name="index"/> (DATA_NONE | ACTION_TRIGGER with count 0).</summary>
    public void DisableIrqs(uint index)
    {
        Span<byte> buffer = stackalloc byte[vfio_irq_set.SizeWithData(0)];
        ref vfio_irq_set set = ref vfio_irq_set.FromBuffer(buffer);
        set.flags = Constants.VFIO_IRQ_SET_DATA_NONE | Constants.VFIO_IRQ_SET_ACTION_TRIGGER;
        set.index = index;
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TrySetIrqs(buffer), Kernel, "VFIO_DEVICE_SET_IRQS", Kind);
    }

    /// <summary>
    /// VFIO_DEVICE_IOEVENTFD: from now on a signal on <paramref name="eventfd"/> makes the kernel write
    /// <paramref name="data"/> (<paramref name="width"/> bytes: 1, 2 or 4; Linux 7.2 refuses 8) at
    /// <paramref name="offset"/> of BAR <paramref name="region"/>, with no trip through this process (a
    /// doorbell a VMM's vCPU rings). EEXIST if that write has an eventfd already. Keep
    /// <paramref name="eventfd"/> open while it is registered: Linux disarms an ioeventfd whose eventfd
    /// is closed, the engine (which holds a reference of its own) does not.
    /// </summary>
    public void AddIoEventfd(VfioRegionInfo region, long offset, int width, ulong data, EventFd eventfd)
    {
        ArgumentNullException.ThrowIfNull(eventfd);
        bool added = false;
        try
        {
            eventfd.Fd.DangerousAddRef(ref added);
            SetIoEventfd(region, offset, width, data, (int)eventfd.Fd.DangerousGetHandle());
        }
        finally
        {
            if (added)
            {
                eventfd.Fd.DangerousRelease();
            }
        }
    }

    /// <summary>VFIO_DEVICE_IOEVENTFD with fd -1: the write <see cref="AddIoEventfd"/> set up goes (ENODEV if there is none).</summary>
    public void RemoveIoEventfd(VfioRegionInfo region, long offset, int width, ulong data) => SetIoEventfd(region, offset, width, data, -1);

    private void SetIoEventfd(VfioRegionInfo region, long offset, int width, ulong data, int fd)
    {
        ArgumentNullException.ThrowIfNull(region);
        if (width is not (1 or 2 or 4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(width), width, "an ioeventfd writes 1, 2, 4 or 8 bytes");
        }

        CheckRange(region, offset, width);
        var arg = new vfio_device_ioeventfd
        {
            argsz = (uint)Unsafe.SizeOf<vfio_device_ioeventfd>(),
            flags = (uint)width,                 // VFIO_DEVICE_IOEVENTFD_8/16/32/64 are the width's own bit
            offset = region.Offset + (ulong)offset,
            data = data,
            fd = fd,
        };
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryIoeventfd(ref arg), Kernel, "VFIO_DEVICE_IOEVENTFD", Kind);
    }

    /// <summary>VFIO_DEVICE_RESET.</summary>
    public void Reset()
    {
        using FileDescriptor.Lease lease = Fd.Borrow();
        IoctlCheck.Ok(new VfioDeviceIoctls(Kernel, lease.Fd).TryReset(out _), Kernel, "VFIO_DEVICE_RESET", Kind);
    }

    /// <summary>Reads region bytes at <paramref name="offset"/> within the region (pread at the region's VFIO offset).</summary>
    public void ReadRegion(VfioRegionInfo region, long offset, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(region);
        CheckRange(region, offset, destination.Length);
        using FileDescriptor.Lease lease = Fd.Borrow();
        long n = Kernel.Pread(lease.Fd, destination, (long)region.Offset + offset);
        if (n != destination.Length)
        {
            throw new SyscallException("pread", Fd.Name, n < 0 ? (Errno)(-n) : Errno.EIO, $"region {region.Index} offset 0x{offset:X}");
        }
    }

    /// <summary>Writes region bytes at <paramref name="offset"/> within the region (pwrite at the region's VFIO offset).</summary>
    public void WriteRegion(VfioRegionInfo region, long offset, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(region);
        CheckRange(region, offset, source.Length);
        using FileDescriptor.Lease lease = Fd.Borrow();
        long n = Kernel.Pwrite(lease.Fd, source, (long)region.Offset + offset);
        if (n != source.Length)
        {
            throw new SyscallException("pwrite", Fd.Name, n < 0 ? (Errno)(-n) : Errno.EIO, $"region {region.Index} offset 0x{offset:X}");
        }
    }

    /// <summary>Reads a 32-bit value from PCI config space.</summary>
    public uint ReadConfig32(long offset)
    {
        Span<byte> value = stackalloc byte[4];
        ReadRegion(_config ??= GetRegionInfo(Constants.VFIO_PCI_CONFIG_REGION_INDEX), offset, value);
        return BinaryPrimitives.ReadUInt32LittleEndian(value);
    }

    /// <summary>Writes a 32-bit value to PCI config space.</summary>
    public void WriteConfig32(long offset, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        WriteRegion(_config ??= GetRegionInfo(Constants.VFIO_PCI_CONFIG_REGION_INDEX), offset, bytes);
    }

    /// <summary>Maps a region (a BAR) for register access; trapped by the engine, mmap'd on a real device.</summary>
    /// <exception cref="InvalidOperationException">The region cannot be mapped.</exception>
    public MmioRegion MapRegion(VfioRegionInfo region)
    {
        ArgumentNullException.ThrowIfNull(region);
        using FileDescriptor.Lease lease = Fd.Borrow();
        if (Kernel is IMmioProvider provider && provider.TryGetMmioHandler(lease.Fd, (long)region.Offset, (long)region.Size, out IMmioHandler? handler) && handler is not null)
        {
            return new MmioRegion(handler, (long)region.Size);
        }

        if (region.SparseAreas.Count > 0)
        {
            throw new InvalidOperationException($"region {region.Index} of {Fd.Name} may only be mapped in its {region.SparseAreas.Count} sparse areas, which MapRegion does not support yet; use ReadRegion/WriteRegion");
        }

        if (!region.CanMmap)
        {
            throw new InvalidOperationException($"region {region.Index} of {Fd.Name} cannot be mapped (no VFIO_REGION_INFO_FLAG_MMAP)");
        }

        nint address = Kernel.Mmap(0, (nuint)region.Size, LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE, LinuxConstants.MAP_SHARED, lease.Fd, (long)region.Offset);
        if (address < 0)
        {
            throw new SyscallException("mmap", Fd.Name, (Errno)(-address), $"region {region.Index}");
        }

        IKernel kernel = Kernel;
        return new MmioRegion((byte*)address, (long)region.Size, (a, l) => kernel.Munmap(a, (nuint)l));
    }

    /// <summary>Closes the device (unbinding it from its iommufd).</summary>
    public void Dispose() => Fd.Dispose();

    private static void CheckRange(VfioRegionInfo region, long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if ((ulong)offset + (ulong)length > region.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:X}+{length} is past the end of region {region.Index} (0x{region.Size:X} bytes)");
        }
    }
}
