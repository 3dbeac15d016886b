using Abi.Interop;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using static Abi.Samples.VirtioNet.VirtioSpec;
using P = Abi.Linux.Pci.Constants;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// A poll-mode driver for one virtio-net device (virtio 1.x, modern PCI transport) through VFIO:
/// device initialisation as §3.1.1 orders it, one receive and one transmit queue in DMA memory,
/// and <see cref="RxBurst"/>/<see cref="TxBurst"/> that neither allocate nor lock. Interrupts stay
/// off; the caller polls. One thread per port at a time, as with DPDK queues.
/// </summary>
public sealed unsafe class VirtioNetPort : IDisposable
{
    private readonly VfioDevice _device;
    private readonly IDmaMapper _mapper;
    private readonly ModernTransport _transport;
    private readonly DmaBuffer _rings;
    private RxQueue? _rx;       // set as soon as it exists, so a failed start can give its mbufs back
    private readonly TxQueue _tx;
    private readonly byte[] _mac = new byte[6];
    private long _rxPackets, _rxBytes, _txPackets, _txBytes;
    private bool _disposed;

    /// <summary>Initialises the device and starts its queues.</summary>
    /// <param name="device">An opened VFIO device whose DMA goes through <paramref name="mapper"/>.</param>
    /// <param name="mapper">Where the rings are mapped (the IOAS or container the device is attached to).</param>
    /// <param name="pool">Where receive buffers come from and transmitted ones go back to.</param>
    /// <param name="queueSize">Descriptors per queue (a power of two; the device may offer fewer).</param>
    public VirtioNetPort(VfioDevice device, IDmaMapper mapper, MbufPool pool, ushort queueSize = 256)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(mapper);
        ArgumentNullException.ThrowIfNull(pool);
        if (!ushort.IsPow2(queueSize))
        {
            throw new ArgumentOutOfRangeException(nameof(queueSize), "a split virtqueue's size is a power of two");
        }

        _device = device;
        _mapper = mapper;
        Pool = pool;
        Name = device.Fd.Name;
        _transport = new ModernTransport(device);

        // PCI command register: memory space and bus mastering, or the device can neither be reached nor do DMA.
        device.WriteConfig32(P.PCI_COMMAND, (device.ReadConfig32(P.PCI_COMMAND) & 0xFFFF) | P.PCI_COMMAND_MEMORY | P.PCI_COMMAND_MASTER);

        // §3.1.1 steps 1-3: reset (and wait for it, §4.1.4.3.2), ACKNOWLEDGE, DRIVER.
        _transport.Status = 0;
        SpinUntil(() => _transport.Status == 0, "the device did not finish its reset");
        _transport.Status = Acknowledge;
        _transport.Status = Acknowledge | Driver;

        // Steps 4-6: features. ACCESS_PLATFORM is required: it is what makes the device use IOVAs (§6.1).
        ulong offered = _transport.DeviceFeatures;
        const ulong Required = Version1 | AccessPlatform;
        if ((offered & Required) != Required)
        {
            Fail($"the device does not offer VERSION_1 and ACCESS_PLATFORM (features 0x{offered:X})");
        }

        Features = Required | (offered & NetMac);
        _transport.WriteDriverFeatures(Features);
        _transport.Status = Acknowledge | Driver | FeaturesOk;
        if ((_transport.Status & FeaturesOk) == 0)
        {
            Fail($"the device refused features 0x{Features:X}");
        }

        // Step 7: the queues, in one DMA area mapped for the device.
        int ringBytes = SplitRing.Footprint(queueSize);
        _rings = DmaBuffer.Allocate(mapper.Kernel, 2L * ringBytes, preferHugePages: false);
        ulong iova;
        try
        {
            iova = mapper.Map(_rings);
        }
        catch
        {
            _rings.Dispose();
            Fail("the rings could not be mapped");
            throw;
        }

        QueueMemory = (iova, (ulong)_rings.Length);
        try
        {
            _tx = StartQueues(queueSize, ringBytes, iova);
        }
        catch
        {
            // Leave nothing behind: the device stopped, the rings unmapped and freed, the pool whole.
            _transport.Status = 0;
            SpinUntil(() => _transport.Status == 0, "the device did not finish its reset");
            _rx?.Release();
            _mapper.Unmap(iova, (ulong)_rings.Length);
            _rings.Dispose();
            _transport.Status = Failed;
            _transport.Dispose();
            throw;
        }
    }

    private TxQueue StartQueues(ushort queueSize, int ringBytes, ulong iova)
    {
        var rxRing = new SplitRing((byte*)_rings.Address, iova, queueSize);
        var txRing = new SplitRing((byte*)_rings.Address + ringBytes, iova + (ulong)ringBytes, queueSize);
        (ushort rxSize, long rxDoorbell) = _transport.SetUpQueue(ReceiveQueue, queueSize, rxRing.DescriptorIova, rxRing.DriverIova, rxRing.DeviceIova);
        (ushort txSize, long txDoorbell) = _transport.SetUpQueue(TransmitQueue, queueSize, txRing.DescriptorIova, txRing.DriverIova, txRing.DeviceIova);
        if (rxSize != queueSize || txSize != queueSize)
        {
            Fail($"the device offers queues of {Math.Min(rxSize, txSize)} descriptors, fewer than {queueSize}");
        }

        ModernTransport transport = _transport;
        var rx = new RxQueue(rxRing, Pool, () => transport.Notify(rxDoorbell, ReceiveQueue));
        var tx = new TxQueue(txRing, Pool, () => transport.Notify(txDoorbell, TransmitQueue));
        _rx = rx;
        rx.Fill();

        if ((Features & NetMac) != 0)
        {
            for (int i = 0; i < 6; i++)
            {
                _mac[i] = _transport.ReadDeviceConfig8(i);
            }
        }

        // Step 8: DRIVER_OK, then tell the device about the receive buffers.
        _transport.Status = Acknowledge | Driver | FeaturesOk | DriverOk;
        rx.Kick();
        return tx;
    }

    /// <summary>The device fd's name, for messages.</summary>
    public string Name { get; }

    /// <summary>The features in use.</summary>
    public ulong Features { get; }

    /// <summary>The device's MAC address (zeros if it offers none).</summary>
    public ReadOnlySpan<byte> Mac => _mac;

    /// <summary>The pool this port receives into.</summary>
    public MbufPool Pool { get; }

    /// <summary>The IOVA range of both queues' rings.</summary>
    public (ulong Iova, ulong Length) QueueMemory { get; }

    /// <summary>Frames received.</summary>
    public long RxPackets => Volatile.Read(ref _rxPackets);

    /// <summary>Bytes received.</summary>
    public long RxBytes => Volatile.Read(ref _rxBytes);

    /// <summary>Receive completions that carried no usable frame (the buffer went straight back to the device).</summary>
    public long RxErrors => _rx?.Errors ?? 0;

    /// <summary>Frames handed to the device.</summary>
    public long TxPackets => Volatile.Read(ref _txPackets);

    /// <summary>Bytes handed to the device.</summary>
    public long TxBytes => Volatile.Read(ref _txBytes);

    /// <summary>Whether the device stopped and asks for a reset (DEVICE_NEEDS_RESET, §2.1.2), e.g. after an IOMMU fault. An MMIO read: call it now and then, not per burst.</summary>
    public bool NeedsReset => (_transport.Status & VirtioSpec.NeedsReset) != 0;

    /// <summary>Receives up to <paramref name="packets"/>.Length frames into mbufs the caller then owns.</summary>
    public int RxBurst(Span<Mbuf> packets)
    {
        int n = _rx!.Burst(packets, out long bytes);
        _rxPackets += n;
        _rxBytes += bytes;
        return n;
    }

    /// <summary>Sends up to <paramref name="packets"/>.Length frames; returns n: the first n now belong to the port, the rest stay the caller's.</summary>
    public int TxBurst(ReadOnlySpan<Mbuf> packets)
    {
        int n = _tx.Burst(packets, out long bytes);
        _txPackets += n;
        _txBytes += bytes;
        return n;
    }

    /// <summary>Resets the device (it stops all DMA), returns every mbuf the queues hold, and unmaps the rings.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;

        // §4.1.4.3.2: the reset is done only when the status reads 0 again; until then the device may still DMA.
        _transport.Status = 0;
        SpinUntil(() => _transport.Status == 0, "the device did not finish its reset");
        _tx.Reclaim();
        _tx.Release();
        _rx!.Release();
        try
        {
            _mapper.Unmap(QueueMemory.Iova, QueueMemory.Length);
        }
        catch (IoctlException)
        {
            // Already unmapped (a test that broke the device on purpose); the memory goes anyway.
        }

        _rings.Dispose();
        _transport.Dispose();
    }

    private void Fail(string why)
    {
        _transport.Status = Failed;     // §3.1.1: the driver gives up with FAILED
        _transport.Dispose();
        throw new InvalidOperationException($"{_device.Fd.Name}: {why}");
    }

    private static void SpinUntil(Func<bool> done, string what)
    {
        long deadline = Environment.TickCount64 + 1000;
        while (!done())
        {
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException(what);
            }

            Thread.SpinWait(32);
        }
    }
}
