using Abi.Engine.Iommufd;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>Device DMA through an IOAS: translation, permission checks, faults, IOTLB invalidation and the unmap protocol.</summary>
public sealed class DmaTranslationTests : EngineTest
{
    private const ulong Iova = 0x40_0000;

    private IoasObject Inspect(Ioas ioas) =>
        (IoasObject)((IommufdFile)Kernel.FileOf((int)Iommufd.Fd.DangerousGetHandle())!).Objects.Get(ioas.Id)!;

    [Fact]
    public void DeviceWritesAndReads_ReachTheMappedBuffer()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 3 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        IoasObject space = Inspect(ioas);

        byte[] payload = Enumerable.Range(0, 6000).Select(i => (byte)i).ToArray();
        Assert.True(space.Iopt.DmaWrite(Iova + 100, payload));                // crosses a page boundary
        Assert.Equal(payload, memory.Slice(100, 6000).ToArray());
        byte[] back = new byte[6000];
        Assert.True(space.Iopt.DmaRead(Iova + 100, back));
        Assert.Equal(payload, back);
        Assert.Equal(0, space.Iopt.Faults.Count);
    }

    [Fact]
    public void UnmappedAndReadOnlyIovas_Fault_AndChangeNothing()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        memory.Span.Fill(0xCC);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address, 4096, Iova, Abi.Linux.iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
        IoasObject space = Inspect(ioas);

        Assert.False(space.Iopt.DmaWrite(Iova, [1, 2, 3]));
        Assert.Equal(IommuFaultReason.Permission, space.Iopt.Faults.Last!.Value.Reason);
        Assert.False(space.Iopt.DmaWrite(Iova + 4096, [1]));
        Assert.Equal(new IommuFault(Iova + 4096, true, IommuFaultReason.Unmapped), space.Iopt.Faults.Last);
        Assert.True(memory.Span.ToArray().All(b => b == 0xCC));
        Assert.True(space.Iopt.DmaRead(Iova, new byte[16]));

        // Now cached for reading: the cached page still refuses a write.
        Assert.False(space.Iopt.DmaWrite(Iova, [4]));
        Assert.Equal(IommuFaultReason.Permission, space.Iopt.Faults.Last!.Value.Reason);
        Assert.True(memory.Span.ToArray().All(b => b == 0xCC));
    }

    [Fact]
    public void MemoryTheEngineDoesNotKnow_IsNeverTouched()
    {
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(unchecked((nint)0x8000_0000L), 4096, Iova);       // accepted: nothing is pinned without a domain
        IoasObject space = Inspect(ioas);
        Assert.False(space.Iopt.DmaRead(Iova, new byte[8]));
        Assert.Equal(IommuFaultReason.UnknownMemory, space.Iopt.Faults.Last!.Value.Reason);
    }

    [Fact]
    public void Unmap_InvalidatesTheIotlb()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        IoasObject space = Inspect(ioas);
        Assert.True(space.Iopt.DmaWrite(Iova, [7]));        // now cached
        ioas.Unmap(Iova, 4096);
        Assert.False(space.Iopt.DmaWrite(Iova, [8]));
        Assert.Equal(7, memory.Span[0]);
    }

    [Fact]
    public void Unmap_DropsOnlyTheUnmappedPages_AndAWideUnmapDropsAll()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory.Address, 4096, Iova);
        ioas.Map(memory.Address + 4096, 4096, Iova + 4096);

        // Same IOTLB slot as Iova (4096 pages apart): the second fill evicts the first, and both still translate.
        ulong alias = Iova + ((ulong)IoTlb.Size * 4096);
        ioas.Map(memory.Address + (2 * 4096), 4096, alias);
        IoasObject space = Inspect(ioas);
        Assert.True(space.Iopt.DmaWrite(Iova, [1]));
        Assert.True(space.Iopt.DmaWrite(Iova + 4096, [2]));
        Assert.True(space.Iopt.DmaWrite(alias, [3]));
        Assert.True(space.Iopt.DmaWrite(Iova, [4]));
        Assert.Equal([4, 2, 3], new[] { memory.Span[0], memory.Span[4096], memory.Span[2 * 4096] });

        ioas.Unmap(Iova, 4096);
        Assert.False(space.Iopt.DmaWrite(Iova, [5]));
        Assert.True(space.Iopt.DmaWrite(Iova + 4096, [6]));            // its neighbour's entry survived and is right
        Assert.Equal(4, memory.Span[0]);
        Assert.Equal(6, memory.Span[4096]);

        // An unmap wider than the IOTLB clears it whole; what it did not cover still translates afresh.
        ioas.Map(memory.Address + (3 * 4096), 4096, Iova + (0x2000UL * 4096));
        Assert.True(space.Iopt.DmaWrite(Iova + (0x2000UL * 4096), [7]));
        ioas.Unmap(Iova + 4096, 0x1000UL * 4096);
        Assert.False(space.Iopt.DmaWrite(Iova + 4096, [8]));
        Assert.True(space.Iopt.DmaWrite(Iova + (0x2000UL * 4096), [9]));
        Assert.Equal(9, memory.Span[3 * 4096]);
    }

    [Fact]
    public void IovasTheIotlbCannotHold_NeverHitAnotherPagesEntry_AndStillFaultAfterUnmap()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 2 * 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        const ulong High = 1UL << 60;                         // past the 51 bits an IOTLB tag holds
        ioas.Map(memory.Address, 4096, High);

        // IOVA 0 has High's slot and the same low tag bits: a tag cut short would make High hit its entry.
        ioas.Map(memory.Address + 4096, 4096, 0);
        IoasObject space = Inspect(ioas);
        Assert.True(space.Iopt.DmaWrite(High + 8, [1]));
        Assert.True(space.Iopt.DmaWrite(8, [2]));             // now cached
        Assert.True(space.Iopt.DmaWrite(High + 9, [3]));
        Assert.Equal([1, 3], memory.Span.Slice(8, 2).ToArray());
        Assert.Equal(2, memory.Span[4096 + 8]);
        ioas.Unmap(High, 4096);
        Assert.False(space.Iopt.DmaWrite(High + 8, [4]));
        Assert.Equal(IommuFaultReason.Unmapped, space.Iopt.Faults.Last!.Value.Reason);
    }

    [Fact]
    public void Munmap_OfStillMappedMemory_MakesDmaFault_NotTouchIt()
    {
        var memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        IoasObject space = Inspect(ioas);
        Assert.True(space.Iopt.DmaWrite(Iova, [1]));       // cached in the IOTLB
        memory.Dispose();                             // munmap behind the IOAS's back
        Assert.False(space.Iopt.DmaWrite(Iova, [2]));
        Assert.Equal(IommuFaultReason.UnknownMemory, space.Iopt.Faults.Last!.Value.Reason);
    }

    [Fact]
    public void AfterUnmapReturns_NoDmaReachesTheMemory()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 4096, preferHugePages: false);
        using Ioas ioas = Iommufd.AllocIoas();
        ioas.Map(memory, Iova);
        IoasObject space = Inspect(ioas);
        using var stop = new CancellationTokenSource();
        long writes = 0;
        var device = new Thread(() =>
        {
            byte[] value = new byte[8];
            for (ulong n = 1; !stop.IsCancellationRequested; n++)
            {
                BitConverter.TryWriteBytes(value, n);
                if (space.Iopt.DmaWrite(Iova, value))
                {
                    Interlocked.Increment(ref writes);
                }
            }
        });
        device.Start();
        SpinWait.SpinUntil(() => Interlocked.Read(ref writes) > 1000);

        ioas.Unmap(Iova, 4096);
        ulong afterUnmap = BitConverter.ToUInt64(memory.Span[..8]);
        Thread.Sleep(50);
        ulong later = BitConverter.ToUInt64(memory.Span[..8]);
        stop.Cancel();
        device.Join();

        Assert.True(afterUnmap > 0);
        Assert.Equal(afterUnmap, later);
        Assert.True(space.Iopt.Faults.Count > 0);
    }

    [Fact]
    public void RandomDmaAtUnmappedAndReadOnlyIovas_AllFault_AndCanariesStayIntact()
    {
        using var memory = DmaBuffer.Allocate(Kernel, 16 * 4096, preferHugePages: false);
        memory.Span.Fill(0x5A);
        using Ioas ioas = Iommufd.AllocIoas();
        // Pages 4..7 mapped read-only; everything else around them (canaries) is unmapped.
        ioas.Map(memory.Address + (4 * 4096), 4 * 4096, Iova + (4 * 4096), Abi.Linux.iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE);
        IoasObject space = Inspect(ioas);
        var random = new Random(5);
        byte[] data = new byte[64];
        int faulted = 0;
        for (int i = 0; i < 100_000; i++)
        {
            ulong target = Iova + (ulong)random.Next(0, 16 * 4096 - 64);
            if (!space.Iopt.DmaWrite(target, data))
            {
                faulted++;
            }
        }

        Assert.Equal(100_000, faulted);
        Assert.Equal(100_000, space.Iopt.Faults.Count);
        Assert.True(memory.Span.ToArray().All(b => b == 0x5A));
    }
}
