using Abi.Engine.Iommufd;

namespace Abi.Engine.Tests;

/// <summary>
/// The io-pagetable's B+ tree of areas against a sorted reference, through splits, merges and
/// collapses; with writers' seeks (<c>forChange</c>) before changes at the same place or elsewhere,
/// whose remembered way down a change may reuse only while it is still the tree's.
/// </summary>
public sealed class AreaTreeTests
{
    [Theory]
    [InlineData(1, 200, 20_000)]        // one level of branches and leaf splits
    [InlineData(2, 5_000, 40_000)]      // thousands of leaves: branch splits, a root above them
    [InlineData(3, 60_000, 120_000)]
    public void RandomInsertsAndRemoves_MatchASortedReference(int seed, int span, int operations)
    {
        var random = new Random(seed);
        var tree = new AreaTree();
        var reference = new SortedDictionary<ulong, Area>();
        var starts = new List<ulong>();                  // for a random pick
        bool[] used = new bool[span + 4];               // pages taken, so overlaps are refused without a search
        for (int op = 0; op < operations; op++)
        {
            // Grow for the first half, shrink to nothing in the second: splits, then emptied leaves and collapses.
            bool grow = op < operations / 2 ? random.Next(4) != 0 : random.Next(4) == 0;
            if (grow)
            {
                int page = random.Next(span), pages = random.Next(1, 4);
                if (!used.AsSpan(page, pages).Contains(true))
                {
                    used.AsSpan(page, pages).Fill(true);
                    var area = new Area((ulong)page * 0x1000, ((ulong)(page + pages) * 0x1000) - 1, null!, 0, true, true);
                    SeekAsAWriter(tree, random, area.Iova, span);
                    tree.Insert(area);
                    if (random.Next(4) == 0)
                    {
                        // An unmap and a map again at once, as a driver's pair does: the insert may have split its leaf.
                        tree.TrySeek(area.Iova, out _, forChange: true);
                        Assert.True(tree.Remove(area.Iova));
                        tree.TrySeek(area.Iova, out _, forChange: true);
                        tree.Insert(area);
                    }

                    reference.Add(area.Iova, area);
                    starts.Add(area.Iova);
                }
            }
            else if (starts.Count > 0)
            {
                int pick = random.Next(starts.Count);
                ulong start = starts[pick];
                starts[pick] = starts[^1];
                starts.RemoveAt(starts.Count - 1);
                Area area = reference[start];
                SeekAsAWriter(tree, random, start, span);
                Assert.True(tree.Remove(start));
                if (random.Next(4) == 0)
                {
                    // A map and an unmap again at once: the remove may have emptied and dropped its leaf.
                    tree.TrySeek(start, out _, forChange: true);
                    tree.Insert(area);
                    tree.TrySeek(start, out _, forChange: true);
                    Assert.True(tree.Remove(start));
                }

                Assert.False(tree.Remove(start));
                reference.Remove(start);
                used.AsSpan((int)(area.Iova / 0x1000), (int)(area.Length / 0x1000)).Clear();
            }

            if (op % 997 == 0 || op == operations - 1 || (op >= operations / 2 && reference.Count < 40))
            {
                Check(tree, reference, random, span);
            }
        }

        // Drain what is left, checking as it empties.
        while (starts.Count > 0)
        {
            int pick = random.Next(starts.Count);
            Assert.True(tree.Remove(starts[pick]));
            reference.Remove(starts[pick]);
            starts[pick] = starts[^1];
            starts.RemoveAt(starts.Count - 1);
            Check(tree, reference, random, span);
        }

        Assert.Equal(0, tree.Count);
        Assert.False(tree.TryFirst(out _));
        Assert.False(tree.TrySeek(0, out _));
        tree.Insert(new Area(0x1000, 0x1FFF, null!, 0, true, true));           // usable again once emptied
        Assert.True(tree.TrySeek(0, out AreaTree.Position again) && again.Area.Iova == 0x1000);
    }

    [Fact]
    public void Seek_FindsTheAreaHoldingAPoint_OrTheNextOne()
    {
        var tree = new AreaTree();
        for (ulong i = 0; i < 1000; i++)
        {
            tree.Insert(new Area((i * 0x3000) + 0x1000, (i * 0x3000) + 0x2FFF, null!, 0, true, false));
        }

        Assert.True(tree.TrySeek(0, out AreaTree.Position p));
        Assert.Equal(0x1000UL, p.Area.Iova);                                   // before everything: the first
        Assert.True(tree.TrySeek(0x2FFF, out p));
        Assert.Equal(0x1000UL, p.Area.Iova);                                   // its last byte
        Assert.True(tree.TrySeek(0x3000, out p));
        Assert.Equal(0x4000UL, p.Area.Iova);                                   // in a hole: the next
        Assert.False(tree.TrySeek((999 * 0x3000) + 0x3000, out _));            // past the end
    }

    // As a map checks its range (or an unmap finds its area) before the change: at the place of the
    // change, somewhere else, or both in turn; or not at all.
    private static void SeekAsAWriter(AreaTree tree, Random random, ulong iova, int span)
    {
        ulong elsewhere = (ulong)random.Next(span + 4) * 0x1000;
        switch (random.Next(4))
        {
            case 0:
                tree.TrySeek(iova, out _, forChange: true);
                break;
            case 1:
                tree.TrySeek(elsewhere, out _, forChange: true);
                break;
            case 2:
                tree.TrySeek(iova, out _, forChange: true);
                tree.TrySeek(elsewhere, out _, forChange: true);
                break;
        }
    }

    private static void Check(AreaTree tree, SortedDictionary<ulong, Area> reference, Random random, int span)
    {
        Assert.Equal(reference.Count, tree.Count);
        var seen = new List<Area>();
        foreach (Area area in tree)
        {
            seen.Add(area);
        }

        Assert.Equal(reference.Values, seen);
        for (int probe = 0; probe < 64; probe++)
        {
            // The first area that ends at or after x, by binary search over the reference.
            ulong x = ((ulong)random.Next(span + 4) * 0x1000) + (ulong)random.Next(0x1000);
            int lo = 0, hi = seen.Count;
            while (lo < hi)
            {
                int mid = (lo + hi) / 2;
                if (seen[mid].Last < x)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            Assert.Equal(lo < seen.Count, tree.TrySeek(x, out AreaTree.Position at));
            if (lo < seen.Count)
            {
                Assert.Equal(seen[lo].Iova, at.Area.Iova);
                int following = 0;
                for (AreaTree.Position p = at; p.Leaf is not null && following < 40; p = p.Next(), following++)
                {
                    Assert.Equal(seen[lo + following].Iova, p.Area.Iova);    // the leaf links run in order
                }
            }
        }
    }
}
