using System.Buffers.Binary;
using Abi.Runtime.Kernel;
using P = Abi.Linux.Pci.Constants;

namespace Abi.Engine.Pci;

/// <summary>
/// An emulated PCI function: the device model an engine registers (<see cref="EmulatedKernel.AddDevice"/>)
/// and a driver then reaches through VFIO exactly as it would a real one. A model declares its
/// identity, BARs (trapped register files) and interrupts in its constructor, answers register
/// accesses synchronously, does DMA through <see cref="Dma"/> (which goes through the emulated
/// IOMMU and faults where the driver mapped nothing) and signals interrupts with
/// <see cref="RaiseInterrupt"/>.
/// </summary>
public abstract class PciDevice
{
    private readonly PciBar?[] _bars = new PciBar?[6];

    /// <summary>Declares the function's identity.</summary>
    /// <param name="vendorId">PCI vendor id.</param>
    /// <param name="deviceId">PCI device id.</param>
    /// <param name="classCode">24-bit class code (class, subclass, programming interface).</param>
    /// <param name="revision">Revision id.</param>
    /// <param name="interruptPin">1 (INTA) if the function has a legacy interrupt, 0 if not.</param>
    protected PciDevice(ushort vendorId, ushort deviceId, uint classCode, byte revision = 0, byte interruptPin = 1)
    {
        Config = new PciConfigSpace(vendorId, deviceId, classCode, revision, interruptPin);
        Interrupts = new InterruptController(this);
        Dma = new DmaPort(Config);
    }

    /// <summary>The configuration space.</summary>
    public PciConfigSpace Config { get; }

    /// <summary>BAR 0-5 (null where unimplemented).</summary>
    public IReadOnlyList<PciBar?> Bars => _bars;

    /// <summary>The device's path to memory, through the emulated IOMMU.</summary>
    public DmaPort Dma { get; }

    /// <summary>MSI vectors (0 without an MSI capability).</summary>
    public int MsiVectors { get; private set; }

    /// <summary>MSI-X vectors (0 without an MSI-X capability).</summary>
    public int MsixVectors { get; private set; }

    /// <summary>The BAR holding the MSI-X table, and the table's byte range in it.</summary>
    public (int Bar, ulong Offset, ulong Length) MsixTable { get; private set; } = (-1, 0, 0);

    /// <summary>Whether the function is PCI Express: a 4 KiB config space (extended capabilities read as 0) and an AER (ERR) interrupt index.</summary>
    public bool IsExpress { get; private set; }

    /// <summary>The size of the config region VFIO shows: 4 KiB for PCI Express, 256 bytes otherwise.</summary>
    public int ConfigSize => IsExpress ? 4096 : PciConfigSpace.Size;

    /// <summary>The expansion ROM behind the ROM BAR, if the function has one.</summary>
    public OptionRom? OptionRom { get; private set; }

    /// <summary>The ROM BAR's size (0: none).</summary>
    public ulong OptionRomSize => OptionRom?.BarSize ?? 0;

    /// <summary>Whether VFIO_DEVICE_RESET works (a function-level reset).</summary>
    public virtual bool CanReset => true;

    /// <summary>A short name for messages.</summary>
    public virtual string Name => GetType().Name;

    internal InterruptController Interrupts { get; }

    /// <summary>Signals interrupt <paramref name="vector"/> the way the driver set it up: MSI-X, MSI or INTx.</summary>
    /// <returns>Whether an eventfd was signalled (false when the driver enabled nothing for it).</returns>
    public bool RaiseInterrupt(int vector = 0) => Interrupts.Raise(vector);

    /// <summary>
    /// Lowers the INTx line <see cref="RaiseInterrupt"/> raised: INTx is level-triggered, so a line the
    /// device keeps up (its interrupt status not yet acknowledged) interrupts again when the driver unmasks.
    /// </summary>
    public void LowerIntx() => Interrupts.LowerIntx();

    /// <summary>Returns the model to its power-on state; called on VFIO_DEVICE_RESET after config space is reset.</summary>
    protected internal virtual void Reset()
    {
    }

    /// <summary>A function-level reset: the INTx line drops (QEMU's pci_do_device_reset deasserts it) and the model starts over.</summary>
    internal void ResetFunction()
    {
        Interrupts.LowerIntx();
        Reset();
    }

    /// <summary>Declares a memory BAR whose accesses go to <paramref name="registers"/>.</summary>
    protected void AddBar(int index, ulong size, IMmioHandler registers, bool is64 = false, bool prefetchable = false)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, is64 ? 4 : 5);
        if (size < 16 || !ulong.IsPow2(size))
        {
            throw new ArgumentOutOfRangeException(nameof(size), "a BAR is a power of two of at least 16 bytes");
        }

        _bars[index] = new PciBar(index, size, registers, is64, Prefetchable: prefetchable);
        Config.DefineBar(index, size, is64, prefetchable: prefetchable);
    }

    /// <summary>Declares an I/O-space BAR whose accesses (through the VFIO region) go to <paramref name="registers"/>.</summary>
    protected void AddIoBar(int index, ulong size, IMmioHandler registers)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, 5);
        if (size < 4 || size > 256 || !ulong.IsPow2(size))
        {
            throw new ArgumentOutOfRangeException(nameof(size), "an I/O BAR is a power of two of 4 to 256 bytes");
        }

        _bars[index] = new PciBar(index, size, registers, Is64: false, IsIo: true);
        Config.DefineBar(index, size, is64: false, io: true);
    }

    /// <summary>The function's SR-IOV capability, if it is a physical function that has one.</summary>
    public virtual SriovCapability? Sriov => null;

    /// <summary>Makes virtual function <paramref name="index"/> of this physical function (called when SR-IOV is enabled).</summary>
    /// <exception cref="NotSupportedException">The function has no SR-IOV capability.</exception>
    protected internal virtual PciDevice CreateVirtualFunction(int index) => throw new NotSupportedException($"{Name} has no SR-IOV capability");

    /// <summary>Declares a ROM BAR of <paramref name="size"/> bytes holding one minimal image with the function's ids (<see cref="OptionRom.MinimalImage"/>).</summary>
    protected void AddOptionRom(ulong size) =>
        AddOptionRom(size, OptionRom.MinimalImage(Config.VendorId, Config.DeviceId, Config.ClassCode));

    /// <summary>Declares a ROM BAR of <paramref name="size"/> bytes holding <paramref name="contents"/> (VFIO's ROM region).</summary>
    protected void AddOptionRom(ulong size, ReadOnlySpan<byte> contents) => OptionRom = new OptionRom(size, contents);

    /// <summary>Makes the function PCI Express: a PCIe capability (endpoint, version 2) and a 4 KiB config space.</summary>
    protected void AddExpressCapability()
    {
        Span<byte> body = stackalloc byte[58];
        body.Clear();
        body[0] = 0x02;     // capability version 2, device/port type 0: PCI Express endpoint
        Config.AddCapability(P.PCI_CAP_ID_EXP, body, stackalloc byte[body.Length]);
        IsExpress = true;
    }

    /// <summary>Declares a memory BAR that is plain memory (no registers): drivers may mmap it, and mapping that mmap for DMA is peer-to-peer.</summary>
    protected PciMemory AddMemoryBar(int index, ulong size, bool is64 = false)
    {
        var memory = new PciMemory(size);
        AddBar(index, size, memory, is64);
        return memory;
    }

    /// <summary>Adds a 64-bit MSI capability with <paramref name="vectors"/> (1-32, a power of two) vectors.</summary>
    protected void AddMsi(int vectors)
    {
        if (vectors is < 1 or > 32 || !int.IsPow2(vectors))
        {
            throw new ArgumentOutOfRangeException(nameof(vectors));
        }

        Span<byte> body = stackalloc byte[12];
        body.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)(P.PCI_MSI_FLAGS_64BIT | (System.Numerics.BitOperations.Log2((uint)vectors) << 1)));   // Multiple Message Capable
        Span<byte> writable = [0x71, 0x00, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        Config.AddCapability(P.PCI_CAP_ID_MSI, body, writable);
        MsiVectors = vectors;
    }

    /// <summary>Adds an MSI-X capability: <paramref name="vectors"/> entries in BAR <paramref name="bar"/> at <paramref name="tableOffset"/>, the PBA at <paramref name="pbaOffset"/>.</summary>
    protected void AddMsix(int vectors, int bar, uint tableOffset, uint pbaOffset)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vectors, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vectors, 2048);
        if (_bars[bar] is not PciBar target || tableOffset + ((ulong)vectors * 16) > target.Size || (tableOffset & 7) != 0 || (pbaOffset & 7) != 0)
        {
            throw new ArgumentException($"the MSI-X table does not fit BAR {bar}");
        }

        Span<byte> body = stackalloc byte[10];
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)(vectors - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(body[2..], tableOffset | (uint)bar);
        BinaryPrimitives.WriteUInt32LittleEndian(body[6..], pbaOffset | (uint)bar);
        Span<byte> writable = [0x00, 0xC0, 0, 0, 0, 0, 0, 0, 0, 0];
        Config.AddCapability(P.PCI_CAP_ID_MSIX, body, writable);
        MsixVectors = vectors;
        MsixTable = (bar, tableOffset, (ulong)vectors * 16);
    }
}
