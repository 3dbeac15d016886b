using System.Buffers.Binary;

namespace Abi.Engine.Pci;

/// <summary>
/// The 256-byte configuration space of an emulated PCI function, as VFIO shows it to user space:
/// identity registers, a command register, BARs that answer the sizing protocol (write all-ones,
/// read back the size mask), and a capability list. Every byte has a write mask; read-only bits
/// ignore writes, as the kernel's virtualised config space does.
/// </summary>
public sealed class PciConfigSpace
{
    /// <summary>Conventional PCI config space size.</summary>
    public const int Size = 256;

    /// <summary>Command register bits the engine acts on.</summary>
    public const ushort CommandMemory = 0x2, CommandBusMaster = 0x4, CommandIntxDisable = 0x400;

    private const int FirstCapability = 0x40;
    private readonly byte[] _bytes = new byte[Size];
    private readonly byte[] _writable = new byte[Size];
    private readonly Lock _lock = new();
    private int _nextCapability = FirstCapability;
    private int _lastCapability;

    internal PciConfigSpace(ushort vendorId, ushort deviceId, uint classCode, byte revision, byte interruptPin)
    {
        Put16(0x00, vendorId);
        Put16(0x02, deviceId);
        _bytes[0x08] = revision;
        _bytes[0x09] = (byte)classCode;
        _bytes[0x0A] = (byte)(classCode >> 8);
        _bytes[0x0B] = (byte)(classCode >> 16);
        Put16(0x2C, vendorId);      // subsystem ids mirror the device's, as QEMU's models do
        Put16(0x2E, 0x1100);
        _bytes[0x3D] = interruptPin;
        Mask16(0x04, 0x0547);       // I/O, memory, bus master, parity, SERR, INTx disable
        _writable[0x0C] = 0xFF;     // cache line size
        _writable[0x0D] = 0xFF;     // latency timer
        _writable[0x3C] = 0xFF;     // interrupt line
    }

    /// <summary>PCI vendor id.</summary>
    public ushort VendorId => Read16(0x00);

    /// <summary>PCI device id.</summary>
    public ushort DeviceId => Read16(0x02);

    /// <summary>The command register.</summary>
    public ushort Command => Read16(0x04);

    /// <summary>Whether memory decoding is on (BAR accesses work).</summary>
    public bool MemoryEnabled => (Command & CommandMemory) != 0;

    /// <summary>Whether the function may master the bus (do DMA).</summary>
    public bool BusMaster => (Command & CommandBusMaster) != 0;

    /// <summary>Reads <paramref name="size"/> (1, 2 or 4) bytes.</summary>
    public uint Read(int offset, int size)
    {
        lock (_lock)
        {
            uint value = 0;
            for (int i = 0; i < size; i++)
            {
                value |= (uint)_bytes[offset + i] << (8 * i);
            }

            return value;
        }
    }

    /// <summary>Writes <paramref name="size"/> (1, 2 or 4) bytes through the write masks.</summary>
    public void Write(int offset, int size, uint value)
    {
        lock (_lock)
        {
            for (int i = 0; i < size; i++)
            {
                byte mask = _writable[offset + i];
                _bytes[offset + i] = (byte)((_bytes[offset + i] & ~mask) | ((byte)(value >> (8 * i)) & mask));
            }
        }
    }

    /// <summary>Reads a 16-bit register.</summary>
    public ushort Read16(int offset) => (ushort)Read(offset, 2);

    /// <summary>The offset of the first capability with <paramref name="id"/>, or 0.</summary>
    public int FindCapability(byte id)
    {
        for (int at = _bytes[0x34]; at != 0; at = _bytes[at + 1])
        {
            if (_bytes[at] == id)
            {
                return at;
            }
        }

        return 0;
    }

    /// <summary>Returns the function to its power-on values (VFIO_DEVICE_RESET); identity, BAR sizes and capabilities stay.</summary>
    internal void Reset(ushort command)
    {
        lock (_lock)
        {
            for (int i = 0; i < Size; i++)
            {
                // Writable bits hold state; clear them, keeping the read-only identity and layout.
                _bytes[i] &= (byte)~_writable[i];
            }

            _bytes[0x04] = (byte)command;
            _bytes[0x05] = (byte)(command >> 8);
        }
    }

    internal void DefineBar(int index, ulong size, bool is64, bool io = false)
    {
        int at = 0x10 + (4 * index);
        _bytes[at] = (byte)(io ? 0x1 : is64 ? 0x4 : 0x0);
        ulong mask = ~(size - 1) & (io ? ~0x3UL : ~0xFUL);
        Mask32(at, (uint)mask);
        if (is64)
        {
            Mask32(at + 4, (uint)(mask >> 32));
        }
    }

    /// <summary>Appends a capability (id, next, then <paramref name="body"/>) and returns its offset.</summary>
    internal int AddCapability(byte id, ReadOnlySpan<byte> body, ReadOnlySpan<byte> writableBody)
    {
        int at = _nextCapability;
        if (at + 2 + body.Length > Size)
        {
            throw new InvalidOperationException("config space is full");
        }

        _bytes[at] = id;
        body.CopyTo(_bytes.AsSpan(at + 2));
        writableBody.CopyTo(_writable.AsSpan(at + 2));
        if (_lastCapability == 0)
        {
            _bytes[0x34] = (byte)at;
            _bytes[0x06] |= 0x10;       // status: capability list present
        }
        else
        {
            _bytes[_lastCapability + 1] = (byte)at;
        }

        _lastCapability = at;
        _nextCapability = (at + 2 + body.Length + 3) & ~3;
        return at;
    }

    private void Put16(int at, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(at), value);

    private void Mask16(int at, ushort mask) => BinaryPrimitives.WriteUInt16LittleEndian(_writable.AsSpan(at), mask);

    private void Mask32(int at, uint mask) => BinaryPrimitives.WriteUInt32LittleEndian(_writable.AsSpan(at), mask);
}
