using Abi.Engine.Pci;
using Abi.Interop;

namespace Abi.Engine.Vfio;

/// <summary>
/// A dma-buf of ranges of one BAR, as <c>VFIO_DEVICE_FEATURE_DMA_BUF</c> exports it
/// (<c>drivers/vfio/pci/vfio_pci_dmabuf.c</c>, <c>struct vfio_pci_dma_buf</c>): iommufd maps it with
/// IOMMU_IOAS_MAP_FILE, and a device's DMA through that mapping reaches the BAR, peer to peer. The
/// device revokes it whenever its memory stops decoding (a command register write without memory
/// enable, a reset, low power) and restores it when decoding is back; the device's last close revokes
/// it for good (<c>vfio_pci_dma_buf_cleanup</c>).
/// </summary>
internal sealed class VfioPciDmaBuf : DmaBufFile
{
    private readonly (ulong Offset, ulong Length)[] _ranges;

    public VfioPciDmaBuf(VfioDmaBufs exports, PciBar bar, (ulong Offset, ulong Length)[] ranges, ulong length)
        : base(length)
    {
        Exports = exports;
        Bar = bar;
        _ranges = ranges;
    }

    /// <summary>The device's list it is on (priv->vdev): null once the device's last close let go of it.</summary>
    public VfioDmaBufs? Exports { get; set; }

    /// <summary>The BAR its ranges lie in.</summary>
    public PciBar Bar { get; }

    /// <summary>vfio_pci_dma_buf_attach and vfio_pci_dma_buf_iommufd_map: not revoked, and one range only (iommufd takes one physical range).</summary>
    public override int? RefuseImport()
    {
        if (Revoked)
        {
            return EngineDiagnostics.Fail(Errno.ENODEV, "the dma-buf is revoked: its device does not decode memory, or was reset or closed");
        }

        return _ranges.Length != 1
            ? EngineDiagnostics.Fail(Errno.EOPNOTSUPP, $"the dma-buf has {_ranges.Length} ranges; iommufd maps one")
            : null;
    }

    /// <summary>A BAR of plain memory is reached through the engine's view of it; a register file is not memory the engine can copy to.</summary>
    public override unsafe nint Reach(ulong offset, out ulong contiguous)
    {
        contiguous = 0;
        if (_ranges.Length != 1 || Bar.Handler is not PciMemory memory || offset >= _ranges[0].Length)
        {
            return 0;
        }

        contiguous = _ranges[0].Length - offset;
        return (nint)(memory.View + _ranges[0].Offset + offset);
    }

    /// <summary>vfio_pci_dma_buf_release: the last reference went; the device forgets it.</summary>
    public override void Release() => Exports?.Remove(this);
}
