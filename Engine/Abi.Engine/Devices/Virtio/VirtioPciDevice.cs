using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Abi.Engine.Pci;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.Devices.Virtio.VirtioFeatures;
using static Abi.Engine.Devices.Virtio.VirtioPciLayout;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// The virtio 1.x modern PCI transport (virtio 1.x §4.1), laid out like QEMU's
/// <c>disable-legacy=on</c> devices: common, ISR, device and notify structures in BAR4, MSI-X in
/// BAR1. It owns feature negotiation, the device status, queue set-up and doorbells, interrupts
/// (MSI-X or INTx with the ISR) and the broken state: a refused DMA or a malformed ring sets
/// DEVICE_NEEDS_RESET (§2.1.2), signals a configuration change, and the device does nothing more
/// until the driver resets it. What a queue's doorbell does and what the device-specific
/// configuration holds belong to the device type (<see cref="VirtioNetDevice"/>).
/// </summary>
public abstract class VirtioPciDevice : PciDevice
{
    /// <summary>The largest queue the transport accepts.</summary>
    protected const ushort QueueSizeMax = 256;

    private readonly DeviceVirtqueue[] _queues;
    private uint _deviceFeatureSelect, _driverFeatureSelect;
    private ulong _driverFeatures;
    private ushort _configVector = NoVector, _queueSelect;
    private byte _status, _isr;
    private long _deviceTicks;
    private long _meteredKicks;
    private string? _error;

    /// <summary>A modern virtio function of PCI device id <paramref name="deviceId"/> with <paramref name="queueCount"/> queues.</summary>
    protected VirtioPciDevice(ushort deviceId, uint classCode, int queueCount)
        : base(vendorId: 0x1AF4, deviceId: deviceId, classCode: classCode, revision: 1, interruptPin: 1)
    {
        _queues = new DeviceVirtqueue[queueCount];
        for (int i = 0; i < queueCount; i++)
        {
            _queues[i] = new DeviceVirtqueue(i, QueueSizeMax);
        }

        AddBar(MsixBar, MsixBarSize, new MsixTableRegisters());
        AddBar(StructuresBar, StructuresBarSize, new Registers(this), is64: true, prefetchable: true);   // virtio-pci's modern BAR: 64-bit prefetchable
        AddMsix(4, MsixBar, MsixTableOffset, MsixPbaOffset);      // QEMU's default for virtio-net: 2 × queue pairs + 2
        AddOptionRom(0x40000);                                      // QEMU's efi-virtio.rom region
        AddVirtioCapability(CommonCfg, CommonOffset, (uint)CommonLength);
        AddVirtioCapability(IsrCfg, IsrOffset, WindowLength);
        AddVirtioCapability(DeviceCfg, DeviceOffset, WindowLength);
        AddVirtioCapability(NotifyCfg, NotifyOffset, WindowLength, NotifyOffMultiplier);
    }

    /// <summary>No function-level reset, as QEMU's conventional-PCI virtio devices (vfio-pci offers no VFIO_DEVICE_RESET); drivers reset through the status register.</summary>
    public override bool CanReset => false;

    /// <summary>Time spent inside doorbell handling (device work), in <see cref="Stopwatch"/> ticks.</summary>
    public long DeviceTicks => Volatile.Read(ref _deviceTicks);

    /// <summary>
    /// Doorbells timed into <see cref="DeviceTicks"/>: each took two clock reads, about half of whose
    /// cost fell inside the interval it measured and half outside it, on the caller's time.
    /// </summary>
    public long MeteredKicks => Volatile.Read(ref _meteredKicks);

    /// <summary>Why the device asked for a reset, or null while it works.</summary>
    public string? Error => Volatile.Read(ref _error);

    /// <summary>The device status register (§2.1).</summary>
    public byte Status => Volatile.Read(ref _status);

    /// <summary>The feature bits the device offers; the transport refuses FEATURES_OK for anything else, or without VERSION_1 and ACCESS_PLATFORM.</summary>
    protected abstract ulong OfferedFeatures { get; }

    /// <summary>Serialises the device's state: register accesses, doorbells and arrivals from outside (a wire may share one lock between two devices).</summary>
    protected Lock Sync { get; set; } = new();

    /// <summary>Queue <paramref name="index"/>.</summary>
    private protected DeviceVirtqueue Queue(int index) => _queues[index];

    /// <inheritdoc/>
    protected internal override void Reset()
    {
        lock (Sync)
        {
            ResetState();
        }
    }

    /// <summary>Work for a doorbell of a running queue, under <see cref="Sync"/>, inside one DMA burst.</summary>
    private protected abstract void Process(DeviceVirtqueue queue, in DmaBurst dma);

    /// <summary>The device-specific configuration structure (the device window of BAR4).</summary>
    protected abstract ulong ReadDeviceConfig(int offset, int size);

    /// <summary>The device type's own state goes back to its reset values (under <see cref="Sync"/>).</summary>
    protected virtual void ResetDevice()
    {
    }

    /// <summary>Whether the driver finished initialisation and the device is not broken, and the queue is enabled.</summary>
    private protected bool Running(DeviceVirtqueue queue) =>
        (_status & (DriverOk | NeedsReset)) == DriverOk && queue.Enabled;

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
        _error = null;
        ResetDevice();
    }

    // Out of line: a driver's poll loop calls the doorbell through a delegate the JIT may inline, and
    // the device's frame would then be set up on every burst of the driver's. Kept small, so that what
    // runs before the clock is read is little more than the call.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Kick(int queueIndex)
    {
        long start = Stopwatch.GetTimestamp();
        lock (Sync)
        {
            RunQueue(queueIndex);
            _deviceTicks += Stopwatch.GetTimestamp() - start;
            _meteredKicks++;
        }
    }

    // The doorbell's work, in its own frame (its DMA burst, its failure messages), which is set up
    // inside the meter's interval: device time, not the caller's.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void RunQueue(int queueIndex)
    {
        DeviceVirtqueue queue = _queues[queueIndex];
        if (Running(queue))
        {
            using DmaBurst dma = Dma.BeginBurst();
            Process(queue, in dma);
            Finish(queue, in dma);
        }
    }

    /// <summary>Publishes used entries and interrupts, or breaks the device if the queue failed.</summary>
    private protected void Finish(DeviceVirtqueue queue, in DmaBurst dma)
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

        Config.AddCapability(Abi.Linux.Pci.Constants.PCI_CAP_ID_VNDR, body, stackalloc byte[body.Length]);
    }

    private ulong ReadRegister(long offset, int size)
    {
        lock (Sync)
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
            lock (Sync)
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
        _isr = 0;   // reading the ISR status acknowledges it (§4.1.4.5) and lowers the INTx line
        LowerIntx();
        return isr;
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
                DeviceFeature => _deviceFeatureSelect switch { 0 => unchecked((uint)OfferedFeatures), 1 => (uint)(OfferedFeatures >> 32), _ => 0 },
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
            bool acceptable = (_driverFeatures & ~OfferedFeatures) == 0 && (_driverFeatures & (Version1 | AccessPlatform)) == (Version1 | AccessPlatform);
            if (!acceptable)
            {
                value &= unchecked((byte)~FeaturesOk);
            }
        }

        _status = (byte)(value | (_status & NeedsReset));
    }

    private sealed class Registers(VirtioPciDevice device) : IMmioHandler
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
