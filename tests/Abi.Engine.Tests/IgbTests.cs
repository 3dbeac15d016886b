using System.Buffers.Binary;
using Abi.Engine.Devices;
using Abi.Runtime.Memory;
using Abi.Runtime.Pci;
using Abi.Runtime.Vfio;
using static Abi.Linux.Constants;

namespace Abi.Engine.Tests;

/// <summary>
/// The 82576 model driven as the kernel's VFIO selftest driver drives it (lib/drivers/igb: reset,
/// PHY and MAC loopback, one TX and one RX ring of 4096 advanced descriptors, MSI-X vector 0), through
/// the runtime's device API in each IOMMU mode: a memcpy is a frame sent and looped back; it raises
/// no interrupt; send_msi raises exactly one; a copy from an unmapped IOVA stalls the ring until a
/// function reset; a storm of 4095 frames completes.
/// </summary>
public sealed class IgbTests
{
    private const int RingSize = 4096, Chunk = 1024;
    private const ulong Iova = 0x100_0000;
    private const long TxRing = 0, RxRing = RingSize * 16, Source = 2 * RingSize * 16, Destination = Source + (RingSize * Chunk);

    [Theory]
    [InlineData(VfioIommuMode.Type1)]
    [InlineData(VfioIommuMode.Type1v2)]
    [InlineData(VfioIommuMode.IommufdCompatType1)]
    [InlineData(VfioIommuMode.IommufdCompatType1v2)]
    [InlineData(VfioIommuMode.Iommufd)]
    public void TheSelftestDriversFlows_WorkInEveryMode(VfioIommuMode mode)
    {
        var kernel = new EmulatedKernel(mode is VfioIommuMode.Type1 or VfioIommuMode.Type1v2 ? ContainerBackend.Type1 : ContainerBackend.Iommufd);
        var igb = new IgbDevice();
        kernel.AddDevice(igb);
        using VfioPciDevice device = VfioPciDevice.Open("0000:00:03.0", mode, kernel);
        Assert.Equal((0x10C9u << 16) | 0x8086, device.Device.ReadConfig32(0));
        using var memory = DmaBuffer.Allocate(kernel, Destination + (RingSize * Chunk), preferHugePages: false);
        ulong iova = Iova;
        if (device.Dma is VfioContainer container)
        {
            container.MapDma(memory, iova);
        }
        else
        {
            iova = ((Ioas)device.Dma!).Map(memory, Iova);
        }

        using MmioRegion bar = device.Device.MapRegion(device.Device.GetRegionInfo(VFIO_PCI_BAR0_REGION_INDEX));
        using var msi = EventFd.Create(kernel);
        device.Device.SetIrqTriggers(VFIO_PCI_MSIX_IRQ_INDEX, 0, [msi]);
        Init(device.Device, bar, iova);

        // memcpy: a frame from Source looped into Destination, with no interrupt.
        memory.Span.Slice((int)Source, Chunk).Fill((byte)'x');
        memory.Span.Slice((int)Destination, Chunk).Fill((byte)'y');
        int tail = 0;
        Assert.True(Memcpy(bar, memory, iova + (ulong)Source, iova + (ulong)Destination, Chunk, 1, ref tail));
        Assert.True(memory.Span.Slice((int)Destination, Chunk).SequenceEqual(memory.Span.Slice((int)Source, Chunk)));
        Assert.False(msi.TryRead(out _));

        // send_msi: exactly one signal.
        bar.Write32(0x1520, 1);
        Assert.True(msi.TryRead(out ulong count));
        Assert.Equal(1ul, count);

        // From an unmapped IOVA: the queue stalls (no write-back, no interrupt) until a function reset.
        Assert.False(Memcpy(bar, memory, 0x7000_0000, iova + (ulong)Destination, Chunk, 1, ref tail));
        Assert.False(msi.TryRead(out _));
        device.Device.Reset();
        Assert.Equal(0u, bar.Read32(0x03810));                                    // TDH back at 0
        device.Device.SetIrqTriggers(VFIO_PCI_MSIX_IRQ_INDEX, 0, [msi]);
        Init(device.Device, bar, iova);
        tail = 0;

        // The storm: 4095 frames in one doorbell, all written back, no interrupt.
        long looped = igb.LoopedFrames;
        Assert.True(Memcpy(bar, memory, iova + (ulong)Source, iova + (ulong)Destination, Chunk, RingSize - 1, ref tail));
        Assert.Equal(looped + RingSize - 1, igb.LoopedFrames);
        Assert.False(msi.TryRead(out _));
        bar.Write32(0x1520, 1);
        Assert.True(msi.TryRead(out count));
        Assert.Equal(1ul, count);
    }

    // igb_reset and igb_hw_init as lib/drivers/igb/igb.c does them.
    private static void Init(VfioDevice device, MmioRegion bar, ulong iova)
    {
        bar.Write32(0x0, bar.Read32(0x0) | 0x04000000);                          // CTRL.RST
        Assert.NotEqual(0u, bar.Read32(0x10) & 0x200);                          // EECD.AUTO_RD
        Assert.Equal(0u, bar.Read32(0x0) & 0x04000000);                         // RST cleared itself
        bar.Write32(0xD8, uint.MaxValue);                                       // IMC
        bar.Write32(0x18, (bar.Read32(0x18) | 0x10000000) & ~0x00C00000u);      // CTRL_EXT: DRV_LOAD, link mode
        device.WriteConfig32(0x04, device.ReadConfig32(0x04) | 0x6);
        foreach (uint bmcr in (uint[])[0x1200, 0x4140])                          // PHY: autoneg restart, then loopback
        {
            bar.Write32(0x20, bmcr | (1u << 21) | 0x04000000);
            uint mdic = bar.Read32(0x20);
            Assert.NotEqual(0u, mdic & 0x10000000);                             // READY
            Assert.Equal(0u, mdic & 0x40000000);                                // no ERROR
        }

        bar.Write32(0x0, (bar.Read32(0x0) & ~0x300u) | 0x800 | 0x1000 | 0x200 | 0x1 | 0x40);
        bar.Write32(0x5B00, bar.Read32(0x5B00) & ~0x00010000u);                 // GCR
        ulong tx = iova + (ulong)TxRing, rx = iova + (ulong)RxRing;
        bar.Write32(0x3800, (uint)tx);
        bar.Write32(0x3804, (uint)(tx >> 32));
        bar.Write32(0x3808, RingSize * 16);
        bar.Write32(0x3810, 0);
        bar.Write32(0x3818, 0);
        bar.Write32(0x3828, 0x02000000);
        bar.Write32(0x2800, (uint)rx);
        bar.Write32(0x2804, (uint)(rx >> 32));
        bar.Write32(0x2808, RingSize * 16);
        bar.Write32(0x2810, 0);
        bar.Write32(0x2818, 0);
        bar.Write32(0x280C, 0x02000000);
        bar.Write32(0x2828, 0x02000000);
        bar.Write32(0x0100, 0x0400805A);                                        // RCTL: EN, UPE, MPE, LBM_MAC, BAM, SECRC
        bar.Write32(0x0400, 0x0000000A);                                        // TCTL: EN, PSP
        Assert.NotEqual(0u, bar.Read32(0x3828) & 0x02000000);
        Assert.NotEqual(0u, bar.Read32(0x2828) & 0x02000000);
        bar.Write32(0x1514, 0x40000010);                                        // GPIE: MSIX_MODE, EIAME
        bar.Write32(0x152C, 1);                                                 // EIAC
        bar.Write32(0x1530, 1);                                                 // EIAM
        bar.Write32(0x1700, 0x80);                                              // IVAR0: RX queue 0 -> vector 0
        bar.Write32(0x1524, 1);                                                 // EIMS
    }

    // memcpy_start + memcpy_wait: count frames of size bytes from src to dst; true when the last descriptor has DD.
    private static bool Memcpy(MmioRegion bar, DmaBuffer memory, ulong source, ulong destination, int size, int count, ref int tail)
    {
        bar.Write32(0x1528, 1);                                                 // EIMC: no interrupt for the copy
        Span<byte> ring = memory.Span;
        for (int i = 0; i < count; i++)
        {
            Span<byte> tx = ring.Slice((int)TxRing + (tail * 16), 16);
            Span<byte> rx = ring.Slice((int)RxRing + (tail * 16), 16);
            tx.Clear();
            rx.Clear();
            BinaryPrimitives.WriteUInt64LittleEndian(tx, source);
            BinaryPrimitives.WriteUInt32LittleEndian(tx[8..], (uint)size | 0x00300000 | 0x01000000 | 0x02000000 | 0x20000000);
            BinaryPrimitives.WriteUInt32LittleEndian(tx[12..], (uint)size << 14);
            BinaryPrimitives.WriteUInt64LittleEndian(rx, destination);
            tail = (tail + 1) % RingSize;
        }

        bar.Write32(0x2818, (uint)tail);                                        // RDT first
        bar.Write32(0x3818, (uint)tail);                                        // then TDT: the doorbell
        int last = (tail + RingSize - 1) % RingSize;
        bool done = (BinaryPrimitives.ReadUInt32LittleEndian(ring.Slice((int)RxRing + (last * 16) + 8, 4)) & 1) != 0;
        bar.Write32(0x1580, uint.MaxValue);                                     // EICR: clear
        bar.Write32(0x1524, 1);                                                 // EIMS
        return done;
    }
}
