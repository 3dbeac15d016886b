using Abi.Engine.Pci;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Devices;

/// <summary>
/// The reference DMA device: QEMU's <c>edu</c> (vendor 0x1234, device 0x11e8), register for
/// register, so one driver runs on the engine and on QEMU under a real kernel. BAR0 (1 MiB):
/// <list type="table">
/// <item><term>0x00</term><description>identification 0x010000ed (RO)</description></item>
/// <item><term>0x04</term><description>liveness: reads back the bitwise inverse of what was written (0 before any write)</description></item>
/// <item><term>0x08</term><description>factorial: write n, read n! (status bit 0 is clear once done)</description></item>
/// <item><term>0x20</term><description>status: bit 0 computing (RO), bit 7 raise an interrupt after the factorial</description></item>
/// <item><term>0x24 / 0x60 / 0x64</term><description>interrupt status (RO) / raise (ORs into status) / acknowledge (clears)</description></item>
/// <item><term>0x80 / 0x88 / 0x90</term><description>DMA source, destination, count (8-byte registers)</description></item>
/// <item><term>0x98</term><description>DMA command: bit 0 start, bit 1 direction (0: RAM → device buffer, 1: device buffer → RAM), bit 2 raise interrupt 0x100 when done</description></item>
/// </list>
/// The device buffer (4 KiB) sits at address 0x40000 of the device's own space; DMA addresses are
/// clipped to a 28-bit mask as QEMU's model does. The engine runs a transfer at once (QEMU runs it
/// from a timer), so a driver that polls bit 0 of the command register works on both. As in QEMU, a
/// transfer goes page by page: a page the IOMMU refuses reads as zeros and takes no writes, and the
/// pages after it still transfer. Interrupts: INTx, one MSI vector and, beyond QEMU's model, one MSI-X
/// vector (table at 0x80000). Accesses are 4 or 8 bytes: QEMU's memory core refuses narrower ones to
/// the model (reads give 0, writes are dropped), and the model answers ~0 to an 8-byte one below 0x80
/// and to a register it does not know.
/// </summary>
public sealed class EduDevice : PciDevice
{
    /// <summary>Where the device buffer sits in the device's DMA address space.</summary>
    public const ulong BufferAddress = 0x40000;

    /// <summary>Size of the device buffer.</summary>
    public const int BufferSize = 4096;

    /// <summary>Interrupt status bit a DMA completion raises.</summary>
    public const uint DmaDoneInterrupt = 0x100;

    private const ulong DmaMask = (1UL << 28) - 1;
    private readonly byte[] _buffer = new byte[BufferSize];
    private readonly Lock _lock = new();
    private uint _inverse, _factorial, _status, _irqStatus;     // _inverse: QEMU's addr4, ~ the last liveness write
    private ulong _dmaSource, _dmaDestination, _dmaCount, _dmaCommand;

    private readonly bool _functionReset;

    /// <summary>Creates the device with its BAR and interrupts.</summary>
    /// <param name="msix">Add the MSI-X vector QEMU's model lacks (so drivers can test MSI-X); false gives QEMU's device exactly.</param>
    /// <param name="functionReset">Offer VFIO_DEVICE_RESET; QEMU's edu has neither FLR nor a PM reset, so vfio-pci offers none for it.</param>
    public EduDevice(bool msix = true, bool functionReset = true)
        : base(vendorId: 0x1234, deviceId: 0x11E8, classCode: 0x00FF00, revision: 0x10, interruptPin: 1)
    {
        _functionReset = functionReset;

        // QEMU's defaults for a model that sets no subsystem (pci.c: 0x1af4:0x1100); what SeaBIOS leaves
        // in the project's q35 guests: the line it routes INTA to (IRQ 11), and I/O, memory and SERR on.
        Config.SetSubsystem(0x1AF4, 0x1100);
        Config.FirmwareInterruptLine = 11;
        Config.FirmwareCommand = (ushort)(Abi.Linux.Pci.Constants.PCI_COMMAND_IO | Abi.Linux.Pci.Constants.PCI_COMMAND_MEMORY | Abi.Linux.Pci.Constants.PCI_COMMAND_SERR);
        AddBar(0, 1 << 20, new Registers(this));
        AddMsi(1);
        if (msix)
        {
            AddMsix(1, bar: 0, tableOffset: 0x80000, pbaOffset: 0x81000);
        }
    }

    /// <inheritdoc/>
    public override bool CanReset => _functionReset;

    /// <summary>Transfers done since creation.</summary>
    public long Transfers { get; private set; }

    /// <summary>Transfers that hit an IOMMU fault (the device buffer or memory is then partly copied).</summary>
    public long FailedTransfers { get; private set; }

    /// <inheritdoc/>
    protected internal override void Reset()
    {
        lock (_lock)
        {
            _inverse = _factorial = _status = _irqStatus = 0;
            _dmaSource = _dmaDestination = _dmaCount = _dmaCommand = 0;
            Array.Clear(_buffer);
        }
    }

    private ulong Read(long offset, int size)
    {
        if (size < 4)
        {
            return 0;                                 // below the ops' valid minimum: unassigned_mem_read
        }

        if ((offset < 0x80 && size != 4) || (offset >= 0x80 && size is not (4 or 8)))
        {
            return ulong.MaxValue;
        }

        lock (_lock)
        {
            return offset switch
            {
                0x00 => 0x010000EDu,
                0x04 => _inverse,
                0x08 => _factorial,
                0x20 => _status,
                0x24 => _irqStatus,
                0x80 => Part(_dmaSource, size),
                0x88 => Part(_dmaDestination, size),
                0x90 => Part(_dmaCount, size),
                0x98 => Part(_dmaCommand, size),
                _ => ulong.MaxValue,
            };
        }

        static ulong Part(ulong value, int size) => size == 4 ? (uint)value : value;
    }

    private void Write(long offset, int size, ulong value)
    {
        if ((offset < 0x80 && size != 4) || (offset >= 0x80 && size is not (4 or 8)))
        {
            return;
        }

        bool raise = false, lower = false;
        lock (_lock)
        {
            switch (offset)
            {
                case 0x04:
                    _inverse = ~(uint)value;
                    break;
                case 0x08:
                    _factorial = Factorial((uint)value);
                    raise = Set(ref _irqStatus, (_status & 0x80) != 0 ? 0x1u : 0);
                    break;
                case 0x20:
                    _status = (_status & 0x1) | ((uint)value & 0x80);
                    break;
                case 0x60:
                    raise = Set(ref _irqStatus, (uint)value) || _irqStatus != 0;   // edu_raise_irq notifies while any status bit is set
                    break;
                case 0x64:
                    _irqStatus &= ~(uint)value;
                    lower = _irqStatus == 0;                 // edu_lower_irq: the INTx line drops with the last bit
                    break;
                case 0x80:
                    _dmaSource = value;
                    break;
                case 0x88:
                    _dmaDestination = value;
                    break;
                case 0x90:
                    _dmaCount = value;
                    break;
                case 0x98 when (value & 1) != 0:
                    // edu_mmio_write: a command without the run bit is dropped, not stored.
                    _dmaCommand = value;
                    RunDma();
                    _dmaCommand &= ~1UL;
                    raise = (value & 4) != 0 && Set(ref _irqStatus, DmaDoneInterrupt);
                    break;
            }
        }

        if (raise)
        {
            RaiseInterrupt(0);
        }
        else if (lower)
        {
            LowerIntx();
        }
    }

    /// <summary>One transfer between guest memory (through the IOMMU) and the device buffer.</summary>
    private void RunDma()
    {
        bool toRam = (_dmaCommand & 2) != 0;
        ulong bufferSide = toRam ? _dmaSource : _dmaDestination;
        ulong ramSide = (toRam ? _dmaDestination : _dmaSource) & DmaMask;
        if (bufferSide < BufferAddress || _dmaCount > BufferSize || bufferSide - BufferAddress > (ulong)BufferSize - _dmaCount)
        {
            // QEMU's model aborts on an out-of-range buffer address; the engine refuses the transfer instead.
            FailedTransfers++;
            return;
        }

        // QEMU's memory core (flatview_read_continue, flatview_write_continue) translates the transfer
        // page by page and goes on past a page the IOMMU refuses, or every page when bus mastering is
        // off: such a page reads as zeros (unassigned_mem_read) and drops what is written to it.
        Span<byte> window = _buffer.AsSpan((int)(bufferSide - BufferAddress), (int)_dmaCount);
        bool ok = true;
        using (DmaBurst burst = Dma.BeginBurst())
        {
            for (int done = 0; done < window.Length;)
            {
                ulong iova = ramSide + (ulong)done;
                Span<byte> page = window.Slice(done, (int)Math.Min((ulong)(window.Length - done), (ulong)LinuxConstants.PageSize - (iova & (LinuxConstants.PageSize - 1))));
                if (!(toRam ? burst.Write(iova, page) : burst.Read(iova, page)))
                {
                    ok = false;
                    if (!toRam)
                    {
                        page.Clear();
                    }
                }

                done += page.Length;
            }
        }

        Transfers++;
        FailedTransfers += ok ? 0 : 1;
    }

    private static bool Set(ref uint irqStatus, uint bits)
    {
        irqStatus |= bits;
        return bits != 0;
    }

    private static uint Factorial(uint n)
    {
        uint result = 1;
        for (uint i = 2; i <= n; i++)
        {
            result *= i;
        }

        return result;
    }

    private sealed class Registers(EduDevice device) : IMmioHandler
    {
        public ulong Read(long offset, int size) => device.Read(offset, size);

        public void Write(long offset, int size, ulong value) => device.Write(offset, size, value);
    }
}
