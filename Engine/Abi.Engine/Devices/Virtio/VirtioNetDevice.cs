using System.Buffers.Binary;
using System.Diagnostics;
using Abi.Engine.Pci;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.Devices.Virtio.VirtioFeatures;
using static Abi.Engine.Devices.Virtio.VirtioPciLayout;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// A virtio-net device over the virtio 1.x modern PCI transport (vendor 0x1af4, device 0x1041),
/// laid out like QEMU's <c>virtio-net-pci,disable-legacy=on,iommu_platform=on</c>: common, ISR,
/// device and notify structures in BAR4, MSI-X in BAR1. One receive queue (0) and one transmit
/// queue (1), split rings, features VERSION_1, ACCESS_PLATFORM and MAC; no offloads. Every ring
/// and packet access is DMA through the emulated IOMMU.
/// <para>
/// The device works when the driver rings a doorbell, on the driver's thread: a transmit kick
/// sends every available frame to the <see cref="Peer"/>; a receive kick lets the peer fill the
/// receive buffers the driver posted. A refused DMA or a malformed ring breaks the device as
/// QEMU's does: it sets DEVICE_NEEDS_RESET (§2.1.2), signals a configuration change, and does
/// nothing more until the driver resets it.
/// </para>
/// </summary>
public sealed class VirtioNetDevice : PciDevice
{
    /// <summary>Receive and transmit queue numbers (§5.1.2).</summary>
    public const int ReceiveQueue = 0, TransmitQueue = 1;

    /// <summary>The largest frame the device accepts from a driver or a peer (no GSO).</summary>
    public const int MaxFrameLength = 1514;

    private const ushort QueueSizeMax = 256;
    private readonly DeviceVirtqueue[] _queues = [new(ReceiveQueue, QueueSizeMax), new(TransmitQueue, QueueSizeMax)];
    private readonly byte[] _mac;
    private readonly byte[] _frame = new byte[NetHeaderLength + MaxFrameLength];
    private Lock _lock = new();
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ulong _driverFeatures;
    private ushort _configVector = NoVector, _queueSelect;
    private byte _status, _isr;
    private int _rxBudget;
    private long _rxPackets, _rxBytes, _rxMissed, _txPackets, _txBytes, _deviceTicks;
    private string? _error;

    /// <summary>Creates the device with MAC address <paramref name="mac"/>.</summary>
    public VirtioNetDevice(ReadOnlySpan<byte> mac)
        : base(vendorId: 0x1AF4, deviceId: 0x1041, classCode: 0x020000, revision: 1, interruptPin: 1)
    {
        if (mac.Length != 6)
        {
            throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        }

        _mac = mac.ToArray();
        AddBar(MsixBar, MsixBarSize, new MsixTableRegisters());
        AddBar(StructuresBar, StructuresBarSize, new Registers(this), is64: true);
        AddMsix(4, MsixBar, MsixTableOffset, MsixPbaOffset);      // QEMU's default: 2 × queue pairs + 2
        AddOptionRom(0x40000);                                      // QEMU's efi-virtio.rom region
        AddVirtioCapability(CommonCfg, CommonOffset, CommonLength);
        AddVirtioCapability(IsrCfg, IsrOffset, WindowLength);
        AddVirtioCapability(DeviceCfg, DeviceOffset, WindowLength);
        AddVirtioCapability(NotifyCfg, NotifyOffset, WindowLength, NotifyOffMultiplier);
    }

    /// <inheritdoc/>
    public override string Name => $"virtio-net {Convert.ToHexString(_mac)}";

    /// <summary>No function-level reset, as QEMU's conventional-PCI virtio devices (vfio-pci offers no VFIO_DEVICE_RESET); drivers reset through the status register.</summary>
    public override bool CanReset => false;

    /// <summary>The other end of the cable; set it with <see cref="Connect"/> or <see cref="EthernetWire.Connect"/>.</summary>
    public IEthernetPeer? Peer { get; private set; }

    /// <summary>
    /// Driver-cost mode: the device hands descriptors back at once without touching packet data:
    /// transmitted chains are completed unread, receive buffers are completed with a
    /// <see cref="RecycleFrameLength"/>-byte frame that is never written. What remains is the
    /// driver's own work plus the ring accesses.
    /// </summary>
    public bool RecycleDescriptors { get; set; }

    /// <summary>The frame length reported for recycled receive buffers.</summary>
    public int RecycleFrameLength { get; set; } = 64;

    /// <summary>Frames received into driver buffers.</summary>
    public long RxPackets => Volatile.Read(ref _rxPackets);

    /// <summary>Bytes of those frames.</summary>
    public long RxBytes => Volatile.Read(ref _rxBytes);

    /// <summary>Frames dropped on arrival because the driver had posted no receive buffer.</summary>
    public long RxMissed => Volatile.Read(ref _rxMissed);

    /// <summary>Frames sent to the peer.</summary>
    public long TxPackets => Volatile.Read(ref _txPackets);

    /// <summary>Bytes of those frames.</summary>
    public long TxBytes => Volatile.Read(ref _txBytes);

    /// <summary>Time spent inside doorbell handling (device work), in <see cref="Stopwatch"/> ticks.</summary>
    public long DeviceTicks => Volatile.Read(ref _deviceTicks);

    /// <summary>Why the device asked for a reset, or null while it works.</summary>
    public string? Error => Volatile.Read(ref _error);

    /// <summary>The device status register (§2.1).</summary>
    public byte Status => Volatile.Read(ref _status);

    /// <summary>Plugs the cable into <paramref name="peer"/>.</summary>
    public void Connect(IEthernetPeer peer) => Attach(peer ?? throw new ArgumentNullException(nameof(peer)), new Lock());

    internal void Attach(IEthernetPeer peer, Lock sharedLock)
    {
        lock (_lock)
        {
            Peer = peer;
            _lock = sharedLock;
        }
    }

    /// <summary>A frame arrives from the wire: into the next receive buffer, or counted as missed.</summary>
    internal void Deliver(ReadOnlySpan<byte> frame)
    {
        lock (_lock)
        {
            DeviceVirtqueue rx = _queues[ReceiveQueue];
            if (!Running(rx))
            {
                _rxMissed++;
                return;
            }

            using DmaBurst dma = Dma.BeginBurst();
            if (_rxBudget == 0)
            {
                _rxBudget = rx.Available(in dma);
            }

            if (_rxBudget == 0)
            {
                _rxMissed++;
            }
            else
            {
                _rxBudget--;
                ReceiveOne(rx, in dma, frame);
            }

            Finish(rx, in dma);
        }
    }

    /// <inheritdoc/>
    protected internal override void Reset()
    {
        lock (_lock)
        {
            ResetState();
        }
    }

    private void ResetState()
    {
        foreach (DeviceVirtqueue queue in _queues)
        {
            queue.Reset();
        }

        _deviceFeatureSelect = _driverFeatureSelect = 0;
        _driverFeatures = 0;
        _configVector = NoVector;
        _queueSelect = 0;
        _status = _isr = 0;
        _rxBudget = 0;
        _error = null;
    }

    private bool Running(DeviceVirtqueue queue) =>
        (_status & (DriverOk | NeedsReset)) == DriverOk && queue.Enabled;

    private void Kick(int queueIndex)
    {
        long start = Stopwatch.GetTimestamp();
        lock (_lock)
        {
            DeviceVirtqueue queue = _queues[queueIndex];
            if (Running(queue))
            {
                using DmaBurst dma = Dma.BeginBurst();
                if (queueIndex == TransmitQueue)
                {
                    Transmit(queue, in dma);
                }
                else
                {
                    FillFromPeer(queue, in dma);
                }

                Finish(queue, in dma);
            }

            _deviceTicks += Stopwatch.GetTimestamp() - start;
        }
    }

    /// <summary>Sends every available chain (§2.7.13.2 from the device's side; §5.1.6.2 for the header).</summary>
    private void Transmit(DeviceVirtqueue tx, in DmaBurst dma)
    {
        int available = tx.Available(in dma);
        for (int i = 0; i < available; i++)
        {
            if (!tx.TakeHead(in dma, out ushort head))
            {
                return;
            }

            if (RecycleDescriptors)
            {
                _txPackets++;
                _txBytes += RecycleFrameLength;
                tx.Complete(in dma, head, 0);
                continue;
            }

            int length = 0;
            ushort id = head;
            for (int links = 0; ; links++)
            {
                if (links == tx.Size || !tx.ReadDescriptor(in dma, id, out ulong address, out uint segment, out ushort flags, out ushort next))
                {
                    tx.Fail($"transmit chain at {head} loops or is unreadable");
                    return;
                }

                if ((flags & DescWrite) != 0 || segment > (uint)(_frame.Length - length))
                {
                    tx.Fail(segment > (uint)(_frame.Length - length) ? $"a transmitted frame is longer than {MaxFrameLength} bytes" : "a transmit descriptor is device-writable");
                    return;
                }

                if (!dma.Read(address, _frame.AsSpan(length, (int)segment)))
                {
                    tx.Fail($"DMA read of a frame at IOVA 0x{address:X} was refused by the IOMMU");
                    return;
                }

                length += (int)segment;
                if ((flags & DescNext) == 0)
                {
                    break;
                }

                id = next;
            }

            if (!tx.Complete(in dma, head, 0))
            {
                return;
            }

            if (length > NetHeaderLength)
            {
                _txPackets++;
                _txBytes += length - NetHeaderLength;
                Peer?.Receive(_frame.AsSpan(NetHeaderLength, length - NetHeaderLength));
            }
        }
    }

    /// <summary>A receive kick: the peer may fill what the driver posted.</summary>
    private void FillFromPeer(DeviceVirtqueue rx, in DmaBurst dma)
    {
        _rxBudget = rx.Available(in dma);
        while (_rxBudget > 0)
        {
            ReadOnlySpan<byte> frame = default;
            if (!RecycleDescriptors && (Peer is null || !Peer.TryGetFrame(out frame)))
            {
                return;
            }

            _rxBudget--;
            if (!ReceiveOne(rx, in dma, frame))
            {
                return;
            }
        }
    }

    /// <summary>Writes header and frame into the next receive chain (§5.1.6.3, num_buffers = 1).</summary>
    private bool ReceiveOne(DeviceVirtqueue rx, in DmaBurst dma, ReadOnlySpan<byte> frame)
    {
        if (!rx.TakeHead(in dma, out ushort head))
        {
            return false;
        }

        if (RecycleDescriptors)
        {
            _rxPackets++;
            _rxBytes += RecycleFrameLength;
            return rx.Complete(in dma, head, (uint)(NetHeaderLength + RecycleFrameLength));
        }

        Span<byte> header = stackalloc byte[NetHeaderLength];
        header.Clear();
        header[10] = 1;     // num_buffers
        int total = NetHeaderLength + frame.Length;
        int done = 0;
        ushort id = head;
        for (int links = 0; done < total; links++)
        {
            if (links == rx.Size || !rx.ReadDescriptor(in dma, id, out ulong address, out uint segment, out ushort flags, out ushort next))
            {
                return rx.Fail($"receive chain at {head} loops or is unreadable") != 0;
            }

            if ((flags & DescWrite) == 0)
            {
                return rx.Fail("a receive descriptor is not device-writable") != 0;
            }

            // The segment takes the rest of the header first, then frame bytes.
            int take = (int)Math.Min(segment, (uint)(total - done));
            int fromHeader = Math.Max(0, Math.Min(take, NetHeaderLength - done));
            if ((fromHeader > 0 && !dma.Write(address, header.Slice(done, fromHeader)))
                || (take > fromHeader && !dma.Write(address + (ulong)fromHeader, frame.Slice(done + fromHeader - NetHeaderLength, take - fromHeader))))
            {
                return rx.Fail($"DMA write of a frame at IOVA 0x{address:X} was refused by the IOMMU") != 0;
            }

            done += take;
            if (done < total && (flags & DescNext) == 0)
            {
                // Without VIRTIO_NET_F_MRG_RXBUF a frame must fit one chain; QEMU drops it, so does the device.
                _rxMissed++;
                return rx.Complete(in dma, head, 0);
            }

            id = next;
        }

        _rxPackets++;
        _rxBytes += frame.Length;
        return rx.Complete(in dma, head, (uint)total);
    }

    /// <summary>Publishes used entries and interrupts, or breaks the device if the queue failed.</summary>
    private void Finish(DeviceVirtqueue queue, in DmaBurst dma)
    {
        if (queue.Error is not null)
        {
            Break(queue.Error);
            return;
        }

        if (queue.Publish(in dma))
        {
            Notify(queue.MsixVector, isrBit: 1);
        }
        else if (queue.Error is not null)
        {
            Break(queue.Error);
        }
    }

    private void Break(string reason)
    {
        if ((_status & NeedsReset) != 0)
        {
            return;
        }

        Volatile.Write(ref _error, reason);
        _status |= NeedsReset;
        Notify(_configVector, isrBit: 2);
    }

    private void Notify(ushort vector, byte isrBit)
    {
        if (vector != NoVector)
        {
            RaiseInterrupt(vector);
        }
        else if (Interrupts.Active == (int)Constants.VFIO_PCI_INTX_IRQ_INDEX)
        {
            _isr |= isrBit;
            RaiseInterrupt(0);
        }
    }

    private void AddVirtioCapability(byte type, uint offset, uint length, uint? notifyMultiplier = null)
    {
        // struct virtio_pci_cap after cap_vndr and cap_next (§4.1.4): cap_len, cfg_type, bar, id, padding[2], offset, length.
        Span<byte> body = stackalloc byte[notifyMultiplier is null ? 14 : 18];
        body.Clear();
        body[0] = (byte)(body.Length + 2);
        body[1] = type;
        body[2] = StructuresBar;
        BinaryPrimitives.WriteUInt32LittleEndian(body[6..], offset);
        BinaryPrimitives.WriteUInt32LittleEndian(body[10..], length);
        if (notifyMultiplier is uint multiplier)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(body[14..], multiplier);
        }

        Config.AddCapability(0x09, body, stackalloc byte[body.Length]);
    }

    private ulong ReadRegister(long offset, int size)
    {
        lock (_lock)
        {
            return offset switch
            {
                < (long)IsrOffset => ReadCommon((int)offset, size),
                < (long)DeviceOffset => ReadIsr(offset),
                < (long)NotifyOffset => ReadDeviceConfig((int)(offset - DeviceOffset), size),
                _ => 0,
            };
        }
    }

    private void WriteRegister(long offset, int size, ulong value)
    {
        if (offset >= NotifyOffset)
        {
            // Queue n's doorbell: the driver writes n (§4.1.5.2).
            long queue = (offset - NotifyOffset) / NotifyOffMultiplier;
            if ((offset - NotifyOffset) % NotifyOffMultiplier == 0 && queue < _queues.Length)
            {
                Kick((int)queue);
            }

            return;
        }

        if (offset < CommonLength)
        {
            lock (_lock)
            {
                WriteCommon((int)offset, size, value);
            }
        }
    }

    private ulong ReadIsr(long offset)
    {
        if (offset != IsrOffset)
        {
            return 0;
        }

        byte isr = _isr;
        _isr = 0;   // reading the ISR status acknowledges it (§4.1.4.5)
        return isr;
    }

    private ulong ReadDeviceConfig(int offset, int size)
    {
        // struct virtio_net_config: mac[6], status (LINK_UP), max_virtqueue_pairs, mtu.
        Span<byte> config = stackalloc byte[12];
        _mac.CopyTo(config);
        BinaryPrimitives.WriteUInt16LittleEndian(config[6..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(config[8..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(config[10..], 1500);
        ulong value = 0;
        for (int i = 0; i < size && offset + i < config.Length; i++)
        {
            value |= (ulong)config[offset + i] << (8 * i);
        }

        return value;
    }

    private DeviceVirtqueue? Selected => _queueSelect < _queues.Length ? _queues[_queueSelect] : null;

    private ulong ReadCommon(int offset, int size)
    {
        DeviceVirtqueue? q = Selected;
        ulong value = (offset & ~7) switch
        {
            QueueDesc => q?.DescriptorArea ?? 0,
            QueueDriver => q?.DriverArea ?? 0,
            QueueDevice => q?.DeviceArea ?? 0,
            _ => offset switch
            {
                DeviceFeatureSelect => _deviceFeatureSelect,
                DeviceFeature => _deviceFeatureSelect switch { 0 => unchecked((uint)Offered), 1 => (uint)(Offered >> 32), _ => 0 },
                DriverFeatureSelect => _driverFeatureSelect,
                DriverFeature => _driverFeatureSelect switch { 0 => (uint)_driverFeatures, 1 => (uint)(_driverFeatures >> 32), _ => 0 },
                ConfigMsixVector => _configVector,
                NumQueues => (ulong)_queues.Length,
                DeviceStatus => _status,
                ConfigGeneration => 0,
                QueueSelect => _queueSelect,
                QueueSize => q?.Size ?? 0,
                QueueMsixVector => q?.MsixVector ?? NoVector,
                QueueEnable => q?.Enabled == true ? 1u : 0u,
                QueueNotifyOff => (ulong)(q?.Index ?? 0),
                _ => 0,
            },
        };

        // 64-bit queue addresses may be read as two 32-bit halves.
        return (offset & 4) != 0 && offset >= QueueDesc ? value >> 32 : size == 8 ? value : value & ((1UL << (8 * size)) - 1);
    }

    private void WriteCommon(int offset, int size, ulong value)
    {
        DeviceVirtqueue? q = Selected;
        if (offset >= QueueDesc)
        {
            if (q is null || q.Enabled)
            {
                return;
            }

            // Queue addresses, whole or as two 32-bit halves.
            int field = offset & ~7;
            ulong current = field == QueueDesc ? q.DescriptorArea : field == QueueDriver ? q.DriverArea : q.DeviceArea;
            ulong updated = size == 8 ? value : (offset & 4) != 0 ? (current & 0xFFFF_FFFF) | (value << 32) : (current & ~0xFFFF_FFFFUL) | (uint)value;
            switch (field)
            {
                case QueueDesc:
                    q.DescriptorArea = updated;
                    break;
                case QueueDriver:
                    q.DriverArea = updated;
                    break;
                case QueueDevice:
                    q.DeviceArea = updated;
                    break;
            }

            return;
        }

        switch (offset)
        {
            case DeviceFeatureSelect:
                _deviceFeatureSelect = (uint)value;
                break;
            case DriverFeatureSelect:
                _driverFeatureSelect = (uint)value;
                break;
            case DriverFeature when (_status & FeaturesOk) == 0 && _driverFeatureSelect < 2:
                int shift = 32 * (int)_driverFeatureSelect;
                _driverFeatures = (_driverFeatures & ~(0xFFFF_FFFFUL << shift)) | ((ulong)(uint)value << shift);
                break;
            case ConfigMsixVector:
                _configVector = (ushort)value < MsixVectors ? (ushort)value : NoVector;
                break;
            case DeviceStatus:
                WriteStatus((byte)value);
                break;
            case QueueSelect:
                _queueSelect = (ushort)value;
                break;
            case QueueSize when q is not null && !q.Enabled && (ushort)value is > 0 and <= QueueSizeMax && ushort.IsPow2((ushort)value):
                q.Size = (ushort)value;
                break;
            case QueueMsixVector when q is not null:
                q.MsixVector = (ushort)value < MsixVectors ? (ushort)value : NoVector;
                break;
            case QueueEnable when q is not null && value == 1 && !q.Enabled:
                q.Enabled = true;
                break;
        }
    }

    private void WriteStatus(byte value)
    {
        if (value == 0)
        {
            ResetState();     // §4.1.4.3.1: writing 0 resets the device
            return;
        }

        if ((value & FeaturesOk) != 0 && (_status & FeaturesOk) == 0)
        {
            // §3.1.1 step 5: the device refuses FEATURES_OK for a subset it cannot work with.
            // Without ACCESS_PLATFORM the driver would hand it physical addresses, which it cannot use.
            bool acceptable = (_driverFeatures & ~VirtioFeatures.Offered) == 0 && (_driverFeatures & (Version1 | AccessPlatform)) == (Version1 | AccessPlatform);
            if (!acceptable)
            {
                value &= unchecked((byte)~FeaturesOk);
            }
        }

        _status = (byte)(value | (_status & NeedsReset));
    }

    private sealed class Registers(VirtioNetDevice device) : IMmioHandler
    {
        public ulong Read(long offset, int size) => device.ReadRegister(offset, size);

        public void Write(long offset, int size, ulong value) => device.WriteRegister(offset, size, value);
    }

    /// <summary>BAR1: the MSI-X table and PBA, which VFIO keeps to itself; accesses read 0 and are ignored.</summary>
    private sealed class MsixTableRegisters : IMmioHandler
    {
        public ulong Read(long offset, int size) => 0;

        public void Write(long offset, int size, ulong value)
        {
        }
    }
}
