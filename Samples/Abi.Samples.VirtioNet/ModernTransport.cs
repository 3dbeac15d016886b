using Abi.Runtime.Vfio;
using static Abi.Samples.VirtioNet.VirtioSpec;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// The virtio over PCI modern transport (§4.1): the common configuration, notification and
/// device configuration structures, found through config space and reached through mapped BARs.
/// </summary>
internal sealed class ModernTransport : IDisposable
{
    private readonly Dictionary<int, MmioRegion> _bars = [];
    private readonly MmioRegion _common, _device, _notify;
    private readonly long _commonAt, _deviceAt, _notifyAt;
    private readonly uint _notifyMultiplier;

    public ModernTransport(VfioDevice device)
    {
        Dictionary<byte, VirtioPciCapability> caps = VirtioPciCapability.Find(device);
        foreach (byte required in (ReadOnlySpan<byte>)[CommonCfg, NotifyCfg, DeviceCfg])
        {
            if (!caps.ContainsKey(required))
            {
                throw new InvalidOperationException($"{device.Fd.Name} has no virtio capability of type {required}: not a virtio 1.x modern device (§4.1.4)");
            }
        }

        (_common, _commonAt) = Window(device, caps[CommonCfg]);
        (_device, _deviceAt) = Window(device, caps[DeviceCfg]);
        (_notify, _notifyAt) = Window(device, caps[NotifyCfg]);
        _notifyMultiplier = caps[NotifyCfg].NotifyOffMultiplier;
    }

    public byte Status
    {
        get => _common.Read8(_commonAt + DeviceStatus);
        set => _common.Write8(_commonAt + DeviceStatus, value);
    }

    /// <summary>The device's 64 feature bits, read 32 at a time through the select register (§4.1.4.3).</summary>
    public ulong DeviceFeatures
    {
        get
        {
            _common.Write32(_commonAt + DeviceFeatureSelect, 0);
            ulong low = _common.Read32(_commonAt + DeviceFeature);
            _common.Write32(_commonAt + DeviceFeatureSelect, 1);
            return low | ((ulong)_common.Read32(_commonAt + DeviceFeature) << 32);
        }
    }

    public void WriteDriverFeatures(ulong features)
    {
        _common.Write32(_commonAt + DriverFeatureSelect, 0);
        _common.Write32(_commonAt + DriverFeature, (uint)features);
        _common.Write32(_commonAt + DriverFeatureSelect, 1);
        _common.Write32(_commonAt + DriverFeature, (uint)(features >> 32));
    }

    public ushort QueueCount => _common.Read16(_commonAt + NumQueues);

    /// <summary>
    /// Sets up queue <paramref name="index"/> (§4.1.5.1.3): size no larger than the device's
    /// maximum, the three ring addresses as IOVAs, no interrupt vector, then enable. Returns the
    /// size in use and the queue's doorbell offset.
    /// </summary>
    public (ushort Size, long Doorbell) SetUpQueue(int index, ushort wanted, ulong descriptors, ulong driverRing, ulong deviceRing)
    {
        _common.Write16(_commonAt + QueueSelect, (ushort)index);
        ushort max = _common.Read16(_commonAt + QueueSize);
        if (max == 0)
        {
            throw new InvalidOperationException($"the device has no queue {index}");
        }

        ushort size = Math.Min(max, wanted);
        _common.Write16(_commonAt + QueueSize, size);
        _common.Write16(_commonAt + QueueMsixVector, NoVector);     // poll mode: no interrupts
        WriteAddress(QueueDesc, descriptors);
        WriteAddress(QueueDriver, driverRing);
        WriteAddress(QueueDevice, deviceRing);
        long doorbell = _notifyAt + (_common.Read16(_commonAt + QueueNotifyOff) * (long)_notifyMultiplier);
        _common.Write16(_commonAt + QueueEnable, 1);
        return (size, doorbell);
    }

    /// <summary>Rings a queue's doorbell: the driver writes the queue's index (§4.1.5.2).</summary>
    public void Notify(long doorbell, ushort queue) => _notify.Write16(doorbell, queue);

    public byte ReadDeviceConfig8(int offset) => _device.Read8(_deviceAt + offset);

    public void Dispose()
    {
        foreach (MmioRegion region in _bars.Values)
        {
            region.Dispose();
        }
    }

    private void WriteAddress(int register, ulong value)
    {
        // Two 32-bit writes, low half first, as Linux's vp_iowrite64_twopart: 64-bit MMIO is optional on some buses.
        _common.Write32(_commonAt + register, (uint)value);
        _common.Write32(_commonAt + register + 4, (uint)(value >> 32));
    }

    private (MmioRegion Region, long Offset) Window(VfioDevice device, VirtioPciCapability cap)
    {
        if (!_bars.TryGetValue(cap.Bar, out MmioRegion? region))
        {
            region = device.MapRegion(device.GetRegionInfo(cap.Bar));
            _bars[cap.Bar] = region;
        }

        if (cap.Offset + (ulong)cap.Length > (ulong)region.Length)
        {
            throw new InvalidOperationException($"virtio structure {cap.Type} at BAR{cap.Bar}+0x{cap.Offset:X} (+0x{cap.Length:X}) lies outside the 0x{region.Length:X}-byte BAR");
        }

        return (region, cap.Offset);
    }
}
