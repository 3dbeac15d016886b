using System.Buffers;
using System.Runtime.InteropServices;
using Abi.Engine.Pci;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

internal abstract unsafe partial class VfioDeviceFile
{
    // kmalloc's largest object (KMALLOC_MAX_SIZE: MAX_PAGE_ORDER 10 of 4 KiB pages): memdup_user of a
    // longer range array fails with ENOMEM before it reads the caller's memory.
    private const ulong KmallocMaxSize = 4UL << 20;

    // dma_iova_try_alloc's flag in the length (DMA_IOVA_USE_SWIOTLB): a total with it set is refused.
    private const ulong DmaIovaUseSwiotlb = 1UL << 63;

    // pci_resource_start of every BAR: the engine's functions have no place in a physical address map,
    // so their BARs start at 0 (the ranges' overflow check then sees only offset + length).
    private const ulong BarStart = 0;

    /// <summary>
    /// vfio_pci_core_feature_dma_buf: GET only; the head (region, open flags, flags, range count), then
    /// the ranges, which are read whatever argsz says; a new dma-buf fd of the ranges, revoked at once
    /// when the device's memory does not decode. Checks in the kernel's order: vfio_check_feature, the
    /// head's copy, flags and count, the BAR (ENODEV when it is not a standard BAR the device has), the
    /// ranges' copy, validate_dmabuf_input (page-aligned, non-empty, a total that fits), a memory BAR
    /// (pcim_p2pdma_provider), then each range inside the BAR (vfio_pci_core_fill_phys_vec).
    /// </summary>
    private int GetDmaBuf(uint flags, ulong data, uint dataSize)
    {
        if (CheckFeature(flags, dataSize, (uint)Constants.VFIO_DEVICE_FEATURE_GET, (uint)sizeof(vfio_device_feature_dma_buf)) is int checkedOut)
        {
            return checkedOut;
        }

        if (!UserAccess.TryRead(data, out vfio_device_feature_dma_buf head))
        {
            return Fail(Errno.EFAULT, "the dma-buf request cannot be read");
        }

        if (head.nr_ranges == 0 || head.flags != 0)
        {
            return Fail(Errno.EINVAL, head.nr_ranges == 0 ? "no ranges" : $"flags 0x{head.flags:X} are not zero");
        }

        if (head.region_index >= Constants.VFIO_PCI_ROM_REGION_INDEX || Model.Bars[(int)head.region_index] is not PciBar bar)
        {
            return Fail(Errno.ENODEV, $"region {head.region_index} is not a BAR the device has");
        }

        ulong bytes = (ulong)head.nr_ranges * (ulong)sizeof(vfio_region_dma_range);
        if (bytes > KmallocMaxSize)
        {
            return Fail(Errno.ENOMEM, $"{head.nr_ranges} ranges are more than one allocation holds");
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent((int)bytes);
        try
        {
            if (!UserAccess.TryRead(data + (ulong)sizeof(vfio_device_feature_dma_buf), copy.AsSpan(0, (int)bytes)))
            {
                return Fail(Errno.EFAULT, $"the {head.nr_ranges} ranges cannot be read");
            }

            return ExportDmaBuf(bar, head.open_flags, MemoryMarshal.Cast<byte, vfio_region_dma_range>(copy.AsSpan(0, (int)bytes)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    private int ExportDmaBuf(PciBar bar, uint openFlags, ReadOnlySpan<vfio_region_dma_range> ranges)
    {
        const ulong PageMask = LinuxConstants.PageSize - 1;
        ulong length = 0;
        foreach (vfio_region_dma_range range in ranges)
        {
            if (range.length == 0 || (range.offset & PageMask) != 0 || (range.length & PageMask) != 0)
            {
                return Fail(Errno.EINVAL, $"range [0x{range.offset:X}, +0x{range.length:X}) is empty or not page aligned");
            }

            if (length + range.length < length)
            {
                return Fail(Errno.EINVAL, "the ranges' total length overflows");
            }

            length += range.length;
        }

        if ((length & DmaIovaUseSwiotlb) != 0)
        {
            return Fail(Errno.EINVAL, $"a total length of 0x{length:X} is too large");
        }

        if (bar.IsIo)
        {
            return Fail(Errno.EINVAL, $"BAR {bar.Index} is I/O space: no peer-to-peer provider");
        }

        var kept = new (ulong Offset, ulong Length)[ranges.Length];
        for (int i = 0; i < ranges.Length; i++)
        {
            ulong start = BarStart + ranges[i].offset;
            if (start < BarStart || start + ranges[i].length < start)
            {
                return Fail(Errno.EOVERFLOW, $"range [0x{ranges[i].offset:X}, +0x{ranges[i].length:X}) overflows");
            }

            if (start + ranges[i].length > BarStart + bar.Size)
            {
                return Fail(Errno.EINVAL, $"range [0x{ranges[i].offset:X}, +0x{ranges[i].length:X}) runs past the 0x{bar.Size:X}-byte BAR {bar.Index}");
            }

            kept[i] = (ranges[i].offset, ranges[i].length);
        }

        // dma_buf_getfile keeps the access mode of open_flags; dma_buf_fd takes O_CLOEXEC from them.
        var buffer = new VfioPciDmaBuf(Device.DmaBufs, bar, kept, length) { AccessMode = (int)openFlags & LinuxConstants.O_ACCMODE };
        EmulatedDevice device = Device;
        Device.DmaBufs.Add(buffer, () => device.MemoryEnabled);
        int fd = Kernel.AddFile(buffer, closeOnExec: (openFlags & LinuxConstants.O_CLOEXEC) != 0);
        if (fd < 0)
        {
            buffer.Put();
            return Fail((Errno)(-fd), "no descriptor for the dma-buf");
        }

        return fd;
    }
}
