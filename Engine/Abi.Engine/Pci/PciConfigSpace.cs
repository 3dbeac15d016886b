using System.Buffers.Binary;
using P = Abi.Linux.Pci.Constants;

namespace Abi.Engine.Pci;

/// <summary>
/// The 256-byte configuration space of an emulated PCI function, as VFIO shows it to user space:
/// identity registers, a command register, BARs that answer the sizing protocol (write all-ones,
/// read back the size mask), and a capability list. Every byte has a write mask; read-only bits
/// ignore writes, as the kernel's virtualised config space does. Offsets and bits are
/// linux/pci_regs.h's.
/// </summary>
public sealed class PciConfigSpace
{
    /// <summary>Conventional PCI config space size.</summary>
    public const int Size = P.PCI_CFG_SPACE_SIZE;

    /// <summary>Command register bits the engine acts on.</summary>
    public const ushort CommandMemory = P.PCI_COMMAND_MEMORY, CommandBusMaster = P.PCI_COMMAND_MASTER, CommandIntxDisable = P.PCI_COMMAND_INTX_DISABLE;

    private const int FirstCapability = P.PCI_STD_HEADER_SIZEOF;
    private readonly byte[] _bytes = new byte[Size];
    private readonly byte[] _writable = new byte[Size];
    private readonly bool[] _claimed = new bool[Size];     // header and capability bytes: state a reset clears
    private readonly Lock _lock = new();
    private int _nextCapability = FirstCapability;
    private int _lastCapability;

    internal PciConfigSpace(ushort vendorId, ushort deviceId, uint classCode, byte revision, byte interruptPin)
    {
        Put16(P.PCI_VENDOR_ID, vendorId);
        Put16(P.PCI_DEVICE_ID, deviceId);
        _bytes[P.PCI_REVISION_ID] = revision;
        _bytes[P.PCI_CLASS_PROG] = (byte)classCode;
        _bytes[P.PCI_CLASS_DEVICE] = (byte)(classCode >> 8);
        _bytes[P.PCI_CLASS_DEVICE + 1] = (byte)(classCode >> 16);
        Put16(P.PCI_SUBSYSTEM_VENDOR_ID, vendorId);      // a model that has QEMU's defaults says so (SetSubsystem)
        Put16(P.PCI_SUBSYSTEM_ID, 0x1100);
        _bytes[P.PCI_INTERRUPT_PIN] = interruptPin;
        // QEMU's pci_init_wmask: these command bits, and every byte after the header that no capability
        // claims (vfio-pci passes those through raw: some devices keep registers there).
        Mask16(P.PCI_COMMAND, P.PCI_COMMAND_IO | P.PCI_COMMAND_MEMORY | P.PCI_COMMAND_MASTER | P.PCI_COMMAND_SERR | P.PCI_COMMAND_INTX_DISABLE);
        _writable.AsSpan(FirstCapability).Fill(0xFF);
        // The latency timer stays 0: PCIe functions hardwire it, and QEMU's devices (pci_init_wmask) leave
        // it out of their write mask, so a write through vfio-pci to QEMU's edu reads back 0 (seed 2925).
        _writable[P.PCI_CACHE_LINE_SIZE] = 0xFF;
        _writable[P.PCI_INTERRUPT_LINE] = 0xFF;
    }

    /// <summary>PCI vendor id.</summary>
    public ushort VendorId => Read16(P.PCI_VENDOR_ID);

    /// <summary>PCI device id.</summary>
    public ushort DeviceId => Read16(P.PCI_DEVICE_ID);

    /// <summary>The 24-bit class code (class, subclass, programming interface).</summary>
    public uint ClassCode => Read(P.PCI_CLASS_PROG, 1) | (Read(P.PCI_CLASS_DEVICE, 2) << 8);

    /// <summary>The command register.</summary>
    public ushort Command => Read16(P.PCI_COMMAND);

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
        for (int at = _bytes[P.PCI_CAPABILITY_LIST]; at != 0; at = _bytes[at + P.PCI_CAP_LIST_NEXT])
        {
            if (_bytes[at] == id)
            {
                return at;
            }
        }

        return 0;
    }

    /// <summary>The subsystem vendor and device ids (QEMU gives models that set none 0x1af4:0x1100).</summary>
    internal void SetSubsystem(ushort vendorId, ushort id)
    {
        Put16(P.PCI_SUBSYSTEM_VENDOR_ID, vendorId);
        Put16(P.PCI_SUBSYSTEM_ID, id);
    }

    /// <summary>
    /// What the firmware wrote to the interrupt line register at boot: vfio-pci shows the function's
    /// own register, so each enable finds the firmware's value again, whatever a user wrote before.
    /// </summary>
    internal byte FirmwareInterruptLine
    {
        get;
        set
        {
            field = value;
            _bytes[P.PCI_INTERRUPT_LINE] = value;
        }
    }

    /// <summary>
    /// What the firmware left in the command register at boot (SeaBIOS sets I/O, memory and SERR on
    /// every function it places): vfio-pci shows the function's own register, which keeps those bits
    /// through each enable (pci_enable_device only adds) and each disable (the saved state comes back).
    /// </summary>
    internal ushort FirmwareCommand
    {
        get;
        set
        {
            field = value;
            _bytes[P.PCI_COMMAND] |= (byte)value;
            _bytes[P.PCI_COMMAND + 1] |= (byte)(value >> 8);
        }
    }

    /// <summary>Returns the function to its power-on values (VFIO_DEVICE_RESET); identity, BAR sizes and capabilities stay.</summary>
    internal void Reset(ushort command)
    {
        command |= FirmwareCommand;
        lock (_lock)
        {
            for (int i = 0; i < Size; i++)
            {
                // Writable bits of the header and the capabilities hold state; clear them, keeping the
                // read-only identity and layout. Bytes no capability claims keep what was written.
                if (i < FirstCapability || _claimed[i])
                {
                    _bytes[i] &= (byte)~_writable[i];
                }
            }

            _bytes[P.PCI_INTERRUPT_LINE] = FirmwareInterruptLine;

            _bytes[P.PCI_COMMAND] = (byte)command;
            _bytes[P.PCI_COMMAND + 1] = (byte)(command >> 8);
        }
    }

    /// <summary>
    /// The MSI-X enable bit of the function's own control register, as the host kernel sets it when it
    /// allocates MSI-X vectors for VFIO_DEVICE_SET_IRQS and clears it when it frees them.
    /// </summary>
    internal void SetMsixEnabled(bool enabled)
    {
        int at = FindCapability(P.PCI_CAP_ID_MSIX);
        if (at == 0)
        {
            return;
        }

        lock (_lock)
        {
            byte high = _bytes[at + P.PCI_MSIX_FLAGS + 1];
            const byte enable = (byte)(P.PCI_MSIX_FLAGS_ENABLE >> 8);
            _bytes[at + P.PCI_MSIX_FLAGS + 1] = enabled ? (byte)(high | enable) : (byte)(high & ~enable);
        }
    }

    /// <summary>The status register's interrupt bit, which follows the function's INTx line (QEMU's pci_update_irq_status).</summary>
    internal void SetInterruptStatus(bool asserted)
    {
        lock (_lock)
        {
            _bytes[P.PCI_STATUS] = asserted ? (byte)(_bytes[P.PCI_STATUS] | P.PCI_STATUS_INTERRUPT) : (byte)(_bytes[P.PCI_STATUS] & ~P.PCI_STATUS_INTERRUPT);
        }
    }

    internal void DefineBar(int index, ulong size, bool is64, bool io = false, bool prefetchable = false)
    {
        int at = P.PCI_BASE_ADDRESS_0 + (4 * index);
        _bytes[at] = (byte)(io ? P.PCI_BASE_ADDRESS_SPACE_IO
            : (is64 ? P.PCI_BASE_ADDRESS_MEM_TYPE_64 : P.PCI_BASE_ADDRESS_MEM_TYPE_32) | (prefetchable ? P.PCI_BASE_ADDRESS_MEM_PREFETCH : 0));
        ulong mask = ~(size - 1) & (io ? P.PCI_BASE_ADDRESS_IO_MASK : P.PCI_BASE_ADDRESS_MEM_MASK);
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

        _bytes[at + P.PCI_CAP_LIST_ID] = id;
        body.CopyTo(_bytes.AsSpan(at + 2));
        _writable.AsSpan(at, 2 + body.Length).Clear();        // pci_add_capability: the capability's own masks only
        writableBody.CopyTo(_writable.AsSpan(at + 2));
        _claimed.AsSpan(at, 2 + body.Length).Fill(true);
        if (_lastCapability == 0)
        {
            _bytes[P.PCI_CAPABILITY_LIST] = (byte)at;
            _bytes[P.PCI_STATUS] |= P.PCI_STATUS_CAP_LIST;
        }
        else
        {
            _bytes[_lastCapability + P.PCI_CAP_LIST_NEXT] = (byte)at;
        }

        _lastCapability = at;
        _nextCapability = (at + 2 + body.Length + 3) & ~3;
        return at;
    }

    private void Put16(int at, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(at), value);

    private void Mask16(int at, ushort mask) => BinaryPrimitives.WriteUInt16LittleEndian(_writable.AsSpan(at), mask);

    private void Mask32(int at, uint mask) => BinaryPrimitives.WriteUInt32LittleEndian(_writable.AsSpan(at), mask);
}
