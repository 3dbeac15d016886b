namespace Abi.Engine.Vfio;

/// <summary>
/// The dma-bufs a device exported (<c>vdev->dmabufs</c>), and what happens to them as its memory
/// decoding comes and goes (<c>vfio_pci_dma_buf_move</c>, <c>vfio_pci_dma_buf_cleanup</c>). The
/// kernel moves them under the device's memory_lock held for writing; the list's own lock stands in
/// for it here.
/// </summary>
internal sealed class VfioDmaBufs
{
    private readonly List<VfioPciDmaBuf> _buffers = [];

    public void Add(VfioPciDmaBuf buffer)
    {
        lock (_buffers)
        {
            _buffers.Add(buffer);
        }
    }

    public void Remove(VfioPciDmaBuf buffer)
    {
        lock (_buffers)
        {
            _buffers.Remove(buffer);
        }
    }

    /// <summary>
    /// vfio_pci_dma_buf_move: each buffer whose state changes is revoked or restored, and its importers'
    /// mappings are invalidated either way (iommufd then holds nothing of it in its domains).
    /// </summary>
    public void Move(bool revoked)
    {
        lock (_buffers)
        {
            foreach (VfioPciDmaBuf buffer in _buffers)
            {
                if (buffer.Revoked != revoked)
                {
                    if (revoked)
                    {
                        buffer.Revoked = true;
                    }

                    buffer.InvalidateMappings();
                    buffer.Revoked = revoked;
                }
            }
        }
    }

    /// <summary>vfio_pci_dma_buf_cleanup, at the device's last close: every buffer revoked and let go of; each stays revoked.</summary>
    public void Cleanup()
    {
        lock (_buffers)
        {
            Move(revoked: true);
            foreach (VfioPciDmaBuf buffer in _buffers)
            {
                buffer.Exports = null;
            }

            _buffers.Clear();
        }
    }
}
