using Abi.Engine.Iommufd;
using Abi.Linux;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;
using Abi.Samples.Edu;

namespace Abi.Engine.Tests;

/// <summary>The edu driver on the engine's edu device: MMIO, DMA through the IOMMU, interrupts, isolation.</summary>
public sealed class EduTests : DeviceTest
{
    private const ulong Iova = 0x10_0000;
    private const long DmaCommand = 0x98;   // edu's DMA command register

    [Fact]
    public void Driver_CopiesBetweenTwoIovas_AndGetsTheInterrupt()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        using var driver = new EduDriver(device);

        Assert.Equal((1u, 0u), driver.Version);
        Assert.Equal(~0x1234_5678u, driver.CheckLiveness(0x1234_5678));
        Assert.Equal(3_628_800u, driver.Factorial(10));
        Assert.Equal(Constants.VFIO_PCI_MSIX_IRQ_INDEX, driver.InterruptIndex);

        byte[] payload = Enumerable.Range(0, 3000).Select(i => (byte)(i * 7)).ToArray();
        payload.CopyTo(memory.Slice(0, 3000));
        driver.Copy(Iova, Iova + 4096 + 100, payload.Length);
        Assert.Equal(payload, memory.Slice(4096 + 100, 3000).ToArray());
        Assert.Equal(0x100u, driver.WaitForInterrupt(1000));
        Assert.Equal(0u, driver.WaitForInterrupt(0));                        // acknowledged, nothing pending
        Assert.Equal(0, Edu.Dma.Faults);
        Assert.Equal(2, Edu.Transfers);
    }

    [Fact]
    public void Dma_ToUnmappedOrReadOnlyIova_Faults_AndTouchesNothing()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 3 * 4096, preferHugePages: false);
        memory.Span.Fill(0x5A);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address + 4096, 4096, Iova, iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        using var driver = new EduDriver(device);

        driver.ReadFromMemory(Iova, 64);                                      // reading a read-only page is fine
        driver.WriteToMemory(Iova, 64);                                       // writing it is not
        Assert.Equal(1, Edu.Dma.Faults);
        Assert.Equal(IommuFaultReason.Permission, Edu.Dma.LastFault!.Value.Reason);
        driver.WriteToMemory(Iova + 4096, 64);                                // nothing mapped there
        Assert.Equal(IommuFaultReason.Unmapped, Edu.Dma.LastFault!.Value.Reason);
        Assert.All(memory.Span.ToArray(), b => Assert.Equal(0x5A, b));

        device.Detach();
        driver.ReadFromMemory(Iova, 64);
        Assert.Equal(IommuFaultReason.Blocked, Edu.Dma.LastFault!.Value.Reason);
        Assert.Equal(3, Edu.Dma.Faults);
    }

    [Fact]
    public void Transfer_AcrossARefusedPage_GoesOnPageByPage_AsQemusModelDoes()
    {
        // IOVA pages: 0 writable, 1 unmapped, 2 read-only, 3 writable (QEMU's memory core translates a
        // transfer page by page: a refused page reads as zeros and drops writes, the others transfer).
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        for (int i = 0; i < memory.Length; i++)
        {
            memory.Span[i] = (byte)(1 + (i % 251));
        }

        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address, 4096, Iova);
        ioas.Map(memory.Address + (2 * 4096), 4096, Iova + (2 * 4096), iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
        ioas.Map(memory.Address + (3 * 4096), 4096, Iova + (3 * 4096));
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        using var driver = new EduDriver(device);
        byte[] before = memory.Span.ToArray();

        // The buffer's first 200 bytes from page 0; then memory → buffer over pages 0 and 1 (the last 100
        // bytes of one, the first 100 of the other), which leaves zeros where page 1 was refused; then
        // buffer → memory into the writable page 0 to see what the buffer holds.
        driver.ReadFromMemory(Iova, 200);
        driver.ReadFromMemory(Iova + 4096 - 100, 200);
        driver.WriteToMemory(Iova + 1000, 200);
        Assert.Equal(before.AsSpan(4096 - 100, 100).ToArray(), memory.Slice(1000, 100).ToArray());
        Assert.All(memory.Slice(1100, 100).ToArray(), b => Assert.Equal(0, b));

        // Buffer → memory over pages 2 (read-only) and 3: page 3 takes the buffer's zeros though page 2
        // refused its part.
        driver.WriteToMemory(Iova + (3 * 4096) - 100, 200);
        Assert.Equal(before.AsSpan((2 * 4096) - 100, 4096 + 100).ToArray(), memory.Slice((2 * 4096) - 100, 4096 + 100).ToArray());
        Assert.All(memory.Slice(3 * 4096, 100).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(before.AsSpan((3 * 4096) + 100).ToArray(), memory.Slice((3 * 4096) + 100, 4096 - 100).ToArray());
        Assert.Equal(2, Edu.FailedTransfers);

        // A command without the run bit is dropped (edu_mmio_write): the last transfer's stays.
        using MmioRegion bar = device.MapRegion(device.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX));
        Assert.Equal(2UL, bar.Read64(DmaCommand));
        bar.Write64(DmaCommand, 4);
        Assert.Equal(2UL, bar.Read64(DmaCommand));
    }

    [Fact]
    public void RandomDeviceDmas_AtUnmappedAndReadOnlyIovas_AllFault_AndCanariesSurvive()
    {
        // Two mapped pages with canary pages around them; the device aims 10^5 accesses at everything else.
        using var memory = DmaBuffer.Allocate(Kernel, 5 * 4096, preferHugePages: false);
        memory.Span.Fill(0xC3);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address + 4096, 4096, Iova, iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
        ioas.Map(memory.Address + (3 * 4096), 4096, Iova + (2 * 4096));
        using VfioDevice device = OpenBound(out _);
        device.Attach(ioas.Id);
        device.WriteConfig32(0x04, 0x6);                                       // memory + bus master

        var random = new Random(1234);
        byte[] data = new byte[256];
        random.NextBytes(data);
        const int Accesses = 100_000;
        int refused = 0;
        for (int i = 0; i < Accesses; i++)
        {
            int length = random.Next(1, data.Length + 1);
            ulong target = random.Next(3) switch
            {
                0 => Iova + 4096 + (ulong)random.Next(4096),                   // the hole between the mappings
                1 => (ulong)random.NextInt64(0, 1L << 47) & ~0xFFFUL | 0x800,  // anywhere else
                _ => Iova + (ulong)random.Next(4096 - length),                 // the read-only page, written
            };
            if (target >= Iova + (2 * 4096) && target < Iova + (3 * 4096))
            {
                target += 4096;                                                // never the writable page
            }

            refused += Edu.Dma.Write(target, data.AsSpan(0, length)) ? 0 : 1;
        }

        Assert.Equal(Accesses, refused);
        Assert.Equal(Accesses, Edu.Dma.Faults);
        Assert.All(memory.Span.ToArray(), b => Assert.Equal(0xC3, b));
    }
}
