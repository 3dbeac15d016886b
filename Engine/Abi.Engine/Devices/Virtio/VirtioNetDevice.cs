using System.Buffers.Binary;
using Abi.Engine.Pci;
using static Abi.Engine.Devices.Virtio.VirtioFeatures;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// A virtio-net function (device 0x1041) on the modern PCI transport (<see cref="VirtioPciDevice"/>),
/// as QEMU's <c>virtio-net-pci,disable-legacy=on,iommu_platform=on</c>: one receive queue (0) and
/// one transmit queue (1), split rings, features VERSION_1, ACCESS_PLATFORM and MAC; no offloads.
/// Every ring and packet access is DMA through the emulated IOMMU.
/// <para>
/// The device works when the driver rings a doorbell, on the driver's thread: a transmit kick
/// sends every available frame to the <see cref="Peer"/>; a receive kick lets the peer fill the
/// receive buffers the driver posted. A refused DMA or a malformed ring breaks the device (the
/// transport's DEVICE_NEEDS_RESET).
/// </para>
/// </summary>
public sealed class VirtioNetDevice : VirtioPciDevice
{
    /// <summary>Receive and transmit queue numbers (§5.1.2).</summary>
    public const int ReceiveQueue = 0, TransmitQueue = 1;

    /// <summary>The largest frame the device accepts from a driver or a peer (no GSO).</summary>
    public const int MaxFrameLength = 1514;

    private readonly byte[] _mac;
    private readonly byte[] _frame = new byte[NetHeaderLength + MaxFrameLength];
    private int _rxBudget;
    private long _rxPackets, _rxBytes, _rxMissed, _txPackets, _txBytes;

    /// <summary>Creates the device with MAC address <paramref name="mac"/>.</summary>
    public VirtioNetDevice(ReadOnlySpan<byte> mac)
        : base(deviceId: 0x1041, classCode: 0x020000, queueCount: 2)
    {
        if (mac.Length != 6)
        {
            throw new ArgumentException("a MAC address has 6 bytes", nameof(mac));
        }

        _mac = mac.ToArray();
    }

    /// <inheritdoc/>
    public override string Name => $"virtio-net {Convert.ToHexString(_mac)}";

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

    /// <summary>Plugs the cable into <paramref name="peer"/>.</summary>
    public void Connect(IEthernetPeer peer) => Attach(peer ?? throw new ArgumentNullException(nameof(peer)), new Lock());

    internal void Attach(IEthernetPeer peer, Lock sharedLock)
    {
        lock (Sync)
        {
            Peer = peer;
            Sync = sharedLock;
        }
    }

    /// <summary>A frame arrives from the wire: into the next receive buffer, or counted as missed.</summary>
    internal void Deliver(ReadOnlySpan<byte> frame)
    {
        lock (Sync)
        {
            DeviceVirtqueue rx = Queue(ReceiveQueue);
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
    protected override ulong OfferedFeatures => Offered;

    /// <inheritdoc/>
    protected override void ResetDevice() => _rxBudget = 0;

    /// <summary>A transmit kick sends every available frame to the peer; a receive kick lets the peer fill the posted buffers.</summary>
    private protected override void Process(DeviceVirtqueue queue, in DmaBurst dma)
    {
        if (queue.Index == TransmitQueue)
        {
            Transmit(queue, in dma);
        }
        else
        {
            FillFromPeer(queue, in dma);
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

    /// <inheritdoc/>
    protected override ulong ReadDeviceConfig(int offset, int size)
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
}
