using Abi.Engine.Iommufd;

namespace Abi.Engine.Tests;

/// <summary>The sparse dirty bitmap behind GET_DIRTY_BITMAP: clearing part of a range keeps the rest.</summary>
public sealed class DirtyBitmapTests
{
    /// <param name="lastClearedPage">65 spans fewer words than are dirty (visits the range's words); 705 spans more (walks the dirty words).</param>
    [Theory]
    [InlineData(65ul)]
    [InlineData(705ul)]
    public void Clear_RemovesOnlyThePagesOfItsRange(ulong lastClearedPage)
    {
        var bitmap = new DirtyBitmap(12);
        bitmap.Mark(60 * 4096, 10 * 4096);                                  // pages 60-69: two words
        bitmap.Clear(62 * 4096, ((lastClearedPage + 1) * 4096) - 1);         // from page 62
        Span<ulong> bits = stackalloc ulong[2];
        bits.Clear();
        bitmap.Harvest(0, 128 * 4096, 4096, bits, keep: true);
        Assert.Equal((1ul << 60) | (1ul << 61), bits[0]);
        Assert.Equal(lastClearedPage == 65 ? (1ul << 2) | (1ul << 3) | (1ul << 4) | (1ul << 5) : 0ul, bits[1]);

        bitmap.Clear(0, ulong.MaxValue);
        bits.Clear();
        bitmap.Harvest(0, 128 * 4096, 4096, bits, keep: true);
        Assert.Equal(0ul, bits[0] | bits[1]);
    }
}
