using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// A split virtqueue in DMA memory, seen from the driver (§2.7): the descriptor table, the driver
/// ("available") ring and the device ("used") ring, at fixed places in one page-aligned area.
/// Fields are little-endian as the spec fixes them; this driver targets little-endian hosts.
/// </summary>
internal readonly unsafe struct SplitRing
{
    // The three areas' addresses, worked out once: a burst touches them per packet.
    private readonly byte* _base;
    private readonly byte* _driver;
    private readonly byte* _device;

    public SplitRing(byte* memory, ulong iova, ushort size)
    {
        _base = memory;
        _driver = memory + DriverOffset(size);
        _device = memory + DeviceOffset(size);
        Iova = iova;
        Size = size;
    }

    /// <summary>Bytes one ring of <paramref name="size"/> entries takes: each area starts on a page (more than the §2.7 alignments ask).</summary>
    public static int Footprint(ushort size) => DriverOffset(size) + Align(6 + (2 * size)) + Align(6 + (8 * size));

    public ulong Iova { get; }

    public ushort Size { get; }

    public ulong DescriptorIova => Iova;

    public ulong DriverIova => Iova + (ulong)DriverOffset(Size);

    public ulong DeviceIova => Iova + (ulong)DeviceOffset(Size);

    /// <summary>Descriptor <paramref name="id"/> (16 bytes: addr, len, flags, next).</summary>
    public ref Descriptor this[int id]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ref ((Descriptor*)_base)[id];
    }

    /// <summary>avail.flags.</summary>
    public ref ushort AvailFlags => ref *(ushort*)_driver;

    /// <summary>avail.idx: written by the driver after the entries it covers.</summary>
    public ref ushort AvailIndex => ref *(ushort*)(_driver + 2);

    /// <summary>avail.ring[slot].</summary>
    public ref ushort AvailSlot(int slot) => ref ((ushort*)(_driver + 4))[slot];

    /// <summary>used.flags (the device's VIRTQ_USED_F_NO_NOTIFY).</summary>
    public ushort UsedFlags => Volatile.Read(ref *(ushort*)_device);

    /// <summary>used.idx, read once per burst: the device writes it after the entries.</summary>
    public ushort UsedIndex => Volatile.Read(ref *(ushort*)(_device + 2));

    /// <summary>used.ring[slot].</summary>
    public ref UsedElement UsedSlot(int slot) => ref ((UsedElement*)(_device + 4))[slot];

    private static int DriverOffset(ushort size) => Align(16 * size);

    private static int DeviceOffset(ushort size) => DriverOffset(size) + Align(6 + (2 * size));

    private static int Align(int bytes) => (bytes + 4095) & ~4095;

    [StructLayout(LayoutKind.Sequential)]
    public struct Descriptor
    {
        public ulong Address;
        public uint Length;
        public ushort Flags;
        public ushort Next;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct UsedElement
    {
        public uint Id;
        public uint Length;
    }
}
