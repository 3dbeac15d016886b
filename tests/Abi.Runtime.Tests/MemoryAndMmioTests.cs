using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;
using Abi.Runtime.Vfio;

namespace Abi.Runtime.Tests;

public sealed unsafe class MemoryAndMmioTests
{
    [Fact]
    public void BufferPool_RentsAndReturnsWithoutAllocating()
    {
        using var memory = DmaBuffer.Allocate(LinuxKernel.Instance, 64 * 2048, preferHugePages: false);
        var pool = new BufferPool(memory, 2048, 64) { IovaBase = 0x10_0000 };
        Span<int> burst = stackalloc int[32];
        for (int i = 0; i < 1000; i++)
        {
            int n = pool.RentBulk(burst);
            for (int j = 0; j < n; j++)
            {
                pool.Return(burst[j]);
            }
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000_000; i++)
        {
            int n = pool.RentBulk(burst);
            for (int j = 0; j < n; j++)
            {
                pool[burst[j]][0] = (byte)j;
                pool.Return(burst[j]);
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(64, pool.Available);
        Assert.True(pool.TryRent(out int index));
        Assert.Equal(0x10_0000ul + ((ulong)index * 2048), pool.IovaOf(index));
        Assert.Equal(memory.Address + (index * 2048), pool.AddressOf(index));
    }

    [Fact]
    public void BufferPool_RefusesADoubleReturnAndAForeignIndex()
    {
        using var memory = DmaBuffer.Allocate(LinuxKernel.Instance, 4096, preferHugePages: false);
        var pool = new BufferPool(memory, 1024, 4);
        Assert.Throws<InvalidOperationException>(() => pool.Return(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Return(4));
        Assert.True(pool.TryRent(out int one));
        pool.Return(one);
        Assert.True(pool.TryRent(out int first));
        Assert.True(pool.TryRent(out int second));
        pool.Return(first);
        Assert.Throws<InvalidOperationException>(() => pool.Return(first));   // twice, while others are still rented
        pool.Return(second);
        int[] all = new int[8];
        Assert.Equal(4, pool.RentBulk(all));
        Assert.False(pool.TryRent(out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BufferPool(memory, 2048, 3));
    }

    [Fact]
    public void BadArguments_AreRejectedWithClearExceptions()
    {
        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => DmaBuffer.Allocate(LinuxKernel.Instance, -1));
        Assert.Equal("length", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => DmaBuffer.Allocate(LinuxKernel.Instance, 0));
        var disposed = DmaBuffer.Allocate(LinuxKernel.Instance, 4096, preferHugePages: false);
        disposed.Dispose();
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => disposed.Span.Length);
        Assert.Throws<ArgumentException>(() => FileDescriptor.Open(LinuxKernel.Instance, string.Empty));
        Assert.Throws<ArgumentOutOfRangeException>(() => FileDescriptor.Adopt(LinuxKernel.Instance, -3, "x"));
    }

    [Fact]
    public void MappedMmio_IsVolatileMemory_WithBoundsAndAlignmentChecks()
    {
        using var memory = DmaBuffer.Allocate(LinuxKernel.Instance, 4096, preferHugePages: false);
        var bar = new MmioRegion((byte*)memory.Address, 4096, (_, _) => { });
        bar.Write32(0x10, 0xDEADBEEF);
        bar.Write64(0x18, 0x0102030405060708);
        bar.Write16(0x20, 0xABCD);
        bar.Write8(0x22, 0x7F);
        Assert.Equal(0xDEADBEEFu, bar.Read32(0x10));
        Assert.Equal(0xEFu, memory.Span[0x10]);
        Assert.Equal(0x0102030405060708ul, bar.Read64(0x18));
        Assert.Equal((ushort)0xABCD, bar.Read16(0x20));
        Assert.Equal((byte)0x7F, bar.Read8(0x22));
        Assert.False(bar.IsTrapped);

        ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => bar.Read32(0x11));
        Assert.Contains("not aligned to 4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => bar.Write64(4096, 0));          // past the end, aligned
        bar.Write64(4088, 1);                                                              // the last aligned slot
        Assert.Throws<ArgumentOutOfRangeException>(() => bar.Read8(-1));
        MmioRegion.WriteBarrier();
        MmioRegion.ReadBarrier();
    }

    [Fact]
    public void TrappedMmio_ReachesTheHandlerSynchronously()
    {
        var device = new RegisterFile();
        var tiny = new MmioRegion(device, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => tiny.Read32(0));          // a region shorter than the access
        var bar = new MmioRegion(device, 0x100);
        bar.Write32(0x40, 5);
        Assert.Equal((0x40L, 4, 5ul), device.LastWrite);
        Assert.Equal(0x40u + 4, bar.Read32(0x40));
        Assert.True(bar.IsTrapped);
        Assert.Throws<ArgumentOutOfRangeException>(() => bar.Write32(0x100, 1));
    }

    private sealed class RegisterFile : IMmioHandler
    {
        public (long Offset, int Size, ulong Value) LastWrite { get; private set; }

        public ulong Read(long offset, int size) => (ulong)(offset + size);

        public void Write(long offset, int size, ulong value) => LastWrite = (offset, size, value);
    }
}
