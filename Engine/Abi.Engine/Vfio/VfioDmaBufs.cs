namespace Abi.Engine.Vfio;

/// <summary>
/// The dma-bufs a device exported (<c>vdev->dmabufs</c>), and what happens to them as its memory
/// decoding comes and goes (<c>vfio_pci_dma_buf_move</c>, <c>vfio_pci_dma_buf_cleanup</c>).
/// <see cref="MemoryLock"/> stands for the device's memory_lock held for writing: whoever changes
/// whether memory decodes (a command write, a reset, low power) holds it from the revoke through the
/// change to the restore, and an export decides its first state and joins the list under it, so no
/// buffer is restored on a device that stopped decoding meanwhile. Reentrant.
/// </summary>
internal sealed class VfioDmaBufs
{
    private readonly List<VfioPciDmaBuf> _buffers = [];

    public Lock MemoryLock { get; } = new();

    /// <summary>A new buffer joins the list, revoked at once unless <paramref name="memoryEnabled"/> says the device decodes now.</summary>
    public void Add(VfioPciDmaBuf buffer, Func<bool> memoryEnabled)
    {
        lock (MemoryLock)
        {
            buffer.Revoked = !memoryEnabled();
            _buffers.Add(buffer);
        }
    }

    public void Remove(VfioPciDmaBuf buffer)
    {
        lock (MemoryLock)
        {
            _buffers.Remove(buffer);
        }
    }

    /// <summary>The buffers are restored if <paramref name="memoryEnabled"/> says the device decodes (the kernel's `if (__vfio_pci_memory_enabled(vdev))`).</summary>
    public void RestoreIf(Func<bool> memoryEnabled)
    {
        lock (MemoryLock)
        {
            if (memoryEnabled())
            {
                Move(revoked: false);
            }
        }
    }

    /// <summary>
    /// vfio_pci_dma_buf_move: each buffer whose state changes is revoked or restored, and its importers'
    /// mappings are invalidated either way (iommufd then holds nothing of it in its domains).
    /// </summary>
    public void Move(bool revoked)
    {
        lock (MemoryLock)
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
        lock (MemoryLock)
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
