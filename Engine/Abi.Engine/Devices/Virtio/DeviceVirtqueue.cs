using System.Buffers.Binary;
using Abi.Engine.Pci;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// The device's side of one split virtqueue (virtio 1.x §2.7): the three areas the driver set up
/// (descriptor table, driver ring, device ring), read and written only by DMA through the IOMMU.
/// The device keeps its own <c>last_avail</c>; used entries are written as they complete and the
/// used index is published once per batch (§2.7.8: the index is written after the entries).
/// Any refused access or malformed ring breaks the queue (the device then asks for a reset).
/// </summary>
internal sealed class DeviceVirtqueue(int index, ushort maxSize)
{
    public int Index { get; } = index;

    public ushort MaxSize { get; } = maxSize;

    public ushort Size { get; set; } = maxSize;

    public ushort MsixVector { get; set; } = VirtioFeatures.NoVector;

    public bool Enabled { get; set; }

    public ulong DescriptorArea { get; set; }

    public ulong DriverArea { get; set; }

    public ulong DeviceArea { get; set; }

    /// <summary>Why the queue broke, or null.</summary>
    public string? Error { get; private set; }

    private ushort _lastAvail;
    private ushort _usedIndex;
    private ushort _pending;

    public void Reset()
    {
        Size = MaxSize;
        MsixVector = VirtioFeatures.NoVector;
        Enabled = false;
        DescriptorArea = DriverArea = DeviceArea = 0;
        _lastAvail = _usedIndex = _pending = 0;
        Error = null;
    }

    /// <summary>How many chains the driver has made available beyond those taken; 0 after an error.</summary>
    public int Available(in DmaBurst dma)
    {
        Span<byte> idx = stackalloc byte[2];
        if (Error is not null || !Read(in dma, DriverArea + 2, idx))
        {
            return 0;
        }

        int count = (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(idx) - _lastAvail);
        return count <= Size ? count : Fail($"the driver made {count} buffers available in a ring of {Size}");
    }

    /// <summary>Takes the next available chain's head; false on a broken ring.</summary>
    public bool TakeHead(in DmaBurst dma, out ushort head)
    {
        Span<byte> entry = stackalloc byte[2];
        head = 0;
        if (!Read(in dma, DriverArea + 4 + (2UL * (uint)(_lastAvail % Size)), entry))
        {
            return false;
        }

        head = BinaryPrimitives.ReadUInt16LittleEndian(entry);
        _lastAvail++;
        return head < Size || Fail($"descriptor head {head} is outside the ring of {Size}") != 0;
    }

    /// <summary>Reads descriptor <paramref name="id"/>: address, length, flags, next.</summary>
    public bool ReadDescriptor(in DmaBurst dma, ushort id, out ulong address, out uint length, out ushort flags, out ushort next)
    {
        Span<byte> d = stackalloc byte[16];
        address = 0;
        length = 0;
        flags = next = 0;
        if (!Read(in dma, DescriptorArea + (16UL * id), d))
        {
            return false;
        }

        address = BinaryPrimitives.ReadUInt64LittleEndian(d);
        length = BinaryPrimitives.ReadUInt32LittleEndian(d[8..]);
        flags = BinaryPrimitives.ReadUInt16LittleEndian(d[12..]);
        next = BinaryPrimitives.ReadUInt16LittleEndian(d[14..]);
        if ((flags & VirtioFeatures.DescIndirect) != 0)
        {
            return Fail("an indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not offered") != 0;
        }

        return ((flags & VirtioFeatures.DescNext) == 0 || next < Size) || Fail($"descriptor {id} chains to {next}, outside the ring") != 0;
    }

    /// <summary>Writes a used element; it becomes visible to the driver at <see cref="Publish"/>.</summary>
    public bool Complete(in DmaBurst dma, ushort head, uint written)
    {
        Span<byte> element = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(element, head);
        BinaryPrimitives.WriteUInt32LittleEndian(element[4..], written);
        if (!Write(in dma, DeviceArea + 4 + (8UL * (uint)(_usedIndex % Size)), element))
        {
            return false;
        }

        _usedIndex++;
        _pending++;
        return true;
    }

    /// <summary>Publishes the used index; returns whether the driver wants an interrupt for it.</summary>
    public bool Publish(in DmaBurst dma)
    {
        if (_pending == 0 || Error is not null)
        {
            return false;
        }

        _pending = 0;
        Span<byte> idx = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(idx, _usedIndex);
        if (!Write(in dma, DeviceArea + 2, idx))
        {
            return false;
        }

        Interlocked.MemoryBarrier();        // the index store before the flags load (§2.7.10, device side)
        if (!Read(in dma, DriverArea, idx))
        {
            return false;
        }

        return (BinaryPrimitives.ReadUInt16LittleEndian(idx) & VirtioFeatures.AvailNoInterrupt) == 0;
    }

    /// <summary>Marks the queue broken (a malformed ring); returns 0 for use in expressions.</summary>
    public int Fail(string reason)
    {
        Error ??= $"queue {Index}: {reason}";
        return 0;
    }

    private bool Read(in DmaBurst dma, ulong iova, Span<byte> destination) =>
        dma.Read(iova, destination) || Fail($"DMA read at IOVA 0x{iova:X} was refused by the IOMMU") != 0;

    private bool Write(in DmaBurst dma, ulong iova, ReadOnlySpan<byte> source) =>
        dma.Write(iova, source) || Fail($"DMA write at IOVA 0x{iova:X} was refused by the IOMMU") != 0;
}
