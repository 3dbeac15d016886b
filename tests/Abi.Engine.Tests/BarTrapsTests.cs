using Abi.Engine.Pci;
using Abi.Engine.Vfio;

namespace Abi.Engine.Tests;

/// <summary>Trapped BAR mappings as munmap leaves them: a partial unmap splits a trap, and each part keeps its register offsets.</summary>
public sealed class BarTrapsTests
{
    [Fact]
    public void APartialUnmap_KeepsBothEnds_WithTheirOwnRegisterOffsets()
    {
        var traps = new BarTraps();
        var registers = new RegisterFile(0x4000);
        traps.Add(0x10_0000, 0x4000, registers);

        traps.Remove(0x10_1000, 0x1000);

        Assert.True(traps.TryFind(0x10_0008, 4, out var handler, out long offset));
        Assert.Same(registers, handler);
        Assert.Equal(8, offset);
        Assert.False(traps.TryFind(0x10_1000, 4, out _, out _));
        Assert.False(traps.TryFind(0x10_0FFC, 8, out _, out _));    // would run into the hole
        Assert.True(traps.TryFind(0x10_2010, 4, out handler, out offset));
        Assert.Same(registers, handler);
        Assert.Equal(0x2010, offset);
        Assert.True(traps.TryFind(0x10_3FF8, 8, out _, out offset));
        Assert.Equal(0x3FF8, offset);
    }

    [Fact]
    public void UnmappingAcrossTraps_TrimsEach_AndOnePastTheLastByteTrimsNothing()
    {
        var traps = new BarTraps();
        var first = new RegisterFile(0x2000);
        var second = new RegisterFile(0x2000);
        traps.Add(0x10_0000, 0x2000, first);
        traps.Add(0x10_2000, 0x2000, second);

        traps.Remove(0x10_1000, 0x2000);
        traps.Remove(0x10_4000, 0x1000);

        Assert.True(traps.TryFind(0x10_0FFC, 4, out var handler, out _));
        Assert.Same(first, handler);
        Assert.False(traps.TryFind(0x10_1000, 4, out _, out _));
        Assert.False(traps.TryFind(0x10_2FFC, 4, out _, out _));
        Assert.True(traps.TryFind(0x10_3000, 4, out handler, out long offset));
        Assert.Same(second, handler);
        Assert.Equal(0x1000, offset);
    }
}
