using System.Buffers.Binary;
using Abi.Engine.Pci;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Devices;

/// <summary>
/// The Intel 82576 (igb, 8086:10C9) as far as a DMA engine needs it: what the kernel's VFIO selftest
/// driver (tools/testing/selftests/vfio/lib/drivers/igb) and QEMU's <c>igb</c> model use, from the
/// 82576 datasheet. BAR0 (128 KiB) holds the registers, BAR3 (16 KiB) the MSI-X table (10 vectors).
/// <list type="bullet">
/// <item>Reset: CTRL.RST returns the registers to their power-on values and clears itself; EECD reads
/// AUTO_RD (the EEPROM read is done at once). VFIO_DEVICE_RESET (FLR) does the same.</item>
/// <item>Link and PHY: MDIC writes to PHY address 1 complete at once (READY, no ERROR) and are kept;
/// BMCR bit 14 is PHY loopback.</item>
/// <item>Queue 0 of each direction: advanced descriptors, 16 bytes each. Writing TDT transmits every
/// descriptor from TDH to TDT: the frame is read through the IOMMU and, in MAC loopback (RCTL.LBM_MAC
/// or PHY loopback) with both directions enabled, written to the next receive descriptor's buffer,
/// which is written back with DD and EOP and the frame's length; the receive cause goes to EICR bit
/// IVAR0[4:0] when IVAR0 bit 7 is set. A refused DMA (an IOMMU fault) stops the ring where it is, as
/// a bus error stalls the real queue; the driver resets the function.</item>
/// <item>Extended interrupts in MSI-X mode (GPIE.MSIX_MODE): EICR causes, EICS sets causes, EIMS and
/// EIMC mask, EICR is write-1-to-clear; a cause that is unmasked fires its vector once, is
/// auto-cleared when EIAC has it and auto-masked when GPIE.EIAME and EIAM have it.</item>
/// <item>SR-IOV: 8 VFs (8086:10CA), the first at routing id offset 0x80, stride 2, as the 82576 and
/// QEMU's igb have them; enabling them (sriov_numvfs) makes <see cref="IgbVirtualFunction"/>s.</item>
/// </list>
/// Not modelled: the wire (frames only loop back), receive filtering beyond promiscuous acceptance,
/// offloads, queues other than 0, legacy descriptors, statistics, the PF-VF mailbox and VF queues.
/// </summary>
public sealed class IgbDevice : PciDevice
{
    // Register offsets in BAR0 (82576 datasheet, section 8; e1000_regs.h).
    private const int Ctrl = 0x00000, Eecd = 0x00010, CtrlExt = 0x00018, Mdic = 0x00020, Imc = 0x000D8;
    private const int Rctl = 0x00100, Tctl = 0x00400, Gpie = 0x01514, Eics = 0x01520, Eims = 0x01524;
    private const int Eimc = 0x01528, Eiac = 0x0152C, Eiam = 0x01530, Eicr = 0x01580, Ivar0 = 0x01700;
    private const int Rdbal = 0x02800, Rdbah = 0x02804, Rdlen = 0x02808, Rdh = 0x02810, Rdt = 0x02818;
    private const int Tdbal = 0x03800, Tdbah = 0x03804, Tdlen = 0x03808, Tdh = 0x03810, Tdt = 0x03818;

    // Bits (e1000_defines.h).
    private const uint CtrlRst = 0x04000000, EecdAutoRd = 0x00000200, MdicReady = 0x10000000;
    private const uint MdicOpWrite = 0x04000000, MdicOpRead = 0x08000000, RctlEn = 0x2, RctlLbmMac = 0x40;
    private const uint TctlEn = 0x2, GpieMsixMode = 0x10, GpieEiame = 0x40000000, IvarValid = 0x80;
    private const int PhyLoopback = 0x4000, MaxFrame = 2048;

    private readonly uint[] _registers = new uint[0x20000 / 4];
    private readonly ushort[] _phy = new ushort[32];
    private readonly byte[] _frame = new byte[MaxFrame];
    private readonly Lock _lock = new();

    /// <summary>Creates the function with its BARs and MSI-X vectors.</summary>
    public IgbDevice()
        : base(vendorId: 0x8086, deviceId: 0x10C9, classCode: 0x020000, revision: 0x01, interruptPin: 1)
    {
        AddBar(0, 0x20000, new Registers(this));
        AddBar(3, 0x4000, new MsixWindow());
        AddMsix(10, bar: 3, tableOffset: 0, pbaOffset: 0x2000);
        AddExpressCapability();
        PowerOn();
    }

    private static readonly SriovCapability s_sriov = new(TotalVfs: 8, VfDeviceId: 0x10CA, FirstVfOffset: 0x80, VfStride: 2);

    /// <inheritdoc/>
    public override SriovCapability? Sriov => s_sriov;

    /// <summary>Frames looped back from the transmit to the receive ring.</summary>
    public long LoopedFrames { get; private set; }

    /// <summary>Frames transmitted with no receive descriptor free (dropped, as the MAC drops them).</summary>
    public long DroppedFrames { get; private set; }

    /// <inheritdoc/>
    protected internal override PciDevice CreateVirtualFunction(int index) => new IgbVirtualFunction();

    /// <inheritdoc/>
    protected internal override void Reset()
    {
        lock (_lock)
        {
            PowerOn();
        }
    }

    private void PowerOn()
    {
        Array.Clear(_registers);
        Array.Clear(_phy);
        _registers[Eecd / 4] = EecdAutoRd;
        _registers[Mdic / 4] = MdicReady;
        _phy[0] = 0x1140;            // BMCR: autonegotiation enabled, 1000 Mb/s, full duplex
    }

    private ulong Read(long offset, int size)
    {
        if (size != 4 || (offset & 3) != 0)
        {
            return ulong.MaxValue;
        }

        lock (_lock)
        {
            return _registers[offset / 4];
        }
    }

    private void Write(long offset, int size, ulong value)
    {
        if (size != 4 || (offset & 3) != 0)
        {
            return;
        }

        uint v = (uint)value;
        uint fire = 0;
        lock (_lock)
        {
            switch ((int)offset)
            {
                case Ctrl:
                    if ((v & CtrlRst) != 0)
                    {
                        PowerOn();
                        break;
                    }

                    _registers[Ctrl / 4] = v;
                    break;
                case Mdic:
                    Mdio(v);
                    break;
                case Eics:
                    _registers[Eicr / 4] |= v;
                    fire = Evaluate();
                    break;
                case Eims:
                    _registers[Eims / 4] |= v;
                    fire = Evaluate();
                    break;
                case Eimc:
                    _registers[Eims / 4] &= ~v;
                    break;
                case Eicr:
                    _registers[Eicr / 4] &= ~v;
                    break;
                case Imc:
                case Eecd:
                    break;
                case Tdt:
                    _registers[Tdt / 4] = v;
                    fire = Transmit();
                    break;
                default:
                    _registers[offset / 4] = v;
                    break;
            }
        }

        for (; fire != 0; fire &= fire - 1)
        {
            RaiseInterrupt(System.Numerics.BitOperations.TrailingZeroCount(fire));
        }
    }

    // MDIC: a write or read of a PHY register at PHY address 1 completes at once.
    private void Mdio(uint command)
    {
        int register = (int)((command >> 16) & 0x1F);
        int phy = (int)((command >> 21) & 0x1F);
        uint result = MdicReady;
        if (phy == 1 && (command & MdicOpWrite) != 0)
        {
            _phy[register] = (ushort)command;
            result |= command & 0xFFFF;
        }
        else if (phy == 1 && (command & MdicOpRead) != 0)
        {
            result |= _phy[register];
        }
        else
        {
            result |= 0x40000000;    // ERROR: no such PHY
        }

        _registers[Mdic / 4] = result | (command & 0x0FFF0000 & ~MdicReady);
    }

    /// <summary>Sends every descriptor between TDH and TDT; returns the vectors to fire, one bit each.</summary>
    private uint Transmit()
    {
        if ((_registers[Tctl / 4] & TctlEn) == 0)
        {
            return 0;
        }

        uint ringSize = _registers[Tdlen / 4] / 16;
        ulong ring = ((ulong)_registers[Tdbah / 4] << 32) | (_registers[Tdbal / 4] & ~0x7Fu);
        bool loopback = (_registers[Rctl / 4] & RctlLbmMac) != 0 || (_phy[0] & PhyLoopback) != 0;
        bool received = false;
        Span<byte> descriptor = stackalloc byte[16];
        while (ringSize != 0 && _registers[Tdh / 4] != _registers[Tdt / 4] % ringSize)
        {
            uint head = _registers[Tdh / 4];
            if (!Dma.Read(ring + (head * 16UL), descriptor))
            {
                return Fire(received);                        // a refused fetch stalls the ring here
            }

            ulong buffer = BinaryPrimitives.ReadUInt64LittleEndian(descriptor);
            int length = (int)(BinaryPrimitives.ReadUInt32LittleEndian(descriptor[8..]) & 0xFFFF);
            if (length > MaxFrame || !Dma.Read(buffer, _frame.AsSpan(0, length)))
            {
                return Fire(received);
            }

            if (loopback && (_registers[Rctl / 4] & RctlEn) != 0)
            {
                switch (Receive(_frame.AsSpan(0, length)))
                {
                    case null:
                        return Fire(received);                // the receive side faulted: stall
                    case true:
                        received = true;
                        break;
                }
            }

            _registers[Tdh / 4] = (head + 1) % ringSize;
        }

        return Fire(received);
    }

    /// <summary>Writes one frame to the next receive descriptor: true when written, false when dropped (no descriptor), null on a fault.</summary>
    private bool? Receive(ReadOnlySpan<byte> frame)
    {
        uint ringSize = _registers[Rdlen / 4] / 16;
        if (ringSize == 0 || _registers[Rdh / 4] == _registers[Rdt / 4] % ringSize)
        {
            DroppedFrames++;
            return false;
        }

        ulong ring = ((ulong)_registers[Rdbah / 4] << 32) | (_registers[Rdbal / 4] & ~0x7Fu);
        uint head = _registers[Rdh / 4];
        Span<byte> descriptor = stackalloc byte[16];
        if (!Dma.Read(ring + (head * 16UL), descriptor))
        {
            return null;
        }

        // The buffer first, then the write-back with DD: a driver that sees DD finds the bytes there.
        ulong buffer = BinaryPrimitives.ReadUInt64LittleEndian(descriptor);
        if (!Dma.Write(buffer, frame))
        {
            return null;
        }

        descriptor.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], 0x3);                  // status: DD, EOP
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor[12..], (ushort)frame.Length);
        if (!Dma.Write(ring + (head * 16UL), descriptor))
        {
            return null;
        }

        _registers[Rdh / 4] = (head + 1) % ringSize;
        LoopedFrames++;
        return true;
    }

    // The receive cause of queue 0 (IVAR0 byte 0), then whatever is unmasked fires.
    private uint Fire(bool received)
    {
        uint ivar = _registers[Ivar0 / 4];
        if (received && (ivar & IvarValid) != 0)
        {
            _registers[Eicr / 4] |= 1u << (int)(ivar & 0x1F);
        }

        return Evaluate();
    }

    // Unmasked causes fire their MSI-X vector once (the bits returned); EIAC clears the cause,
    // GPIE.EIAME with EIAM masks it.
    private uint Evaluate()
    {
        uint gpie = _registers[Gpie / 4];
        uint pending = (gpie & GpieMsixMode) == 0 ? 0 : _registers[Eicr / 4] & _registers[Eims / 4] & 0x1FFFFFF;
        _registers[Eicr / 4] &= ~(pending & _registers[Eiac / 4]);
        if ((gpie & GpieEiame) != 0)
        {
            _registers[Eims / 4] &= ~(pending & _registers[Eiam / 4]);
        }

        return pending;
    }

    private sealed class Registers(IgbDevice device) : IMmioHandler
    {
        public ulong Read(long offset, int size) => device.Read(offset, size);

        public void Write(long offset, int size, ulong value) => device.Write(offset, size, value);
    }

    // BAR3 outside the MSI-X table and PBA (which the engine's MSI-X emulation serves): reads as zero.
    private sealed class MsixWindow : IMmioHandler
    {
        public ulong Read(long offset, int size) => 0;

        public void Write(long offset, int size, ulong value)
        {
        }
    }
}
