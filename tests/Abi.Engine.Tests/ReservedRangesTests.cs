using Abi.Engine.Iommufd;

namespace Abi.Engine.Tests;

/// <summary>The io-pagetable's reserved ranges (sorted, with running maximum ends) against a plain list searched end to end.</summary>
public sealed class ReservedRangesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void RandomOverlappingRanges_AnswerAsALinearSearchDoes(int seed)
    {
        var random = new Random(seed);
        var ranges = new ReservedRanges();
        var reference = new List<ReservedRange>();
        object[] owners = [new(), new(), new(), new()];
        for (int op = 0; op < 4000; op++)
        {
            if (random.Next(10) == 0)
            {
                object owner = owners[random.Next(owners.Length)];
                ranges.RemoveOwner(owner);
                reference.RemoveAll(r => ReferenceEquals(r.Owner, owner));
            }
            else
            {
                // Small numbers, so that ranges overlap, share starts and ends, and sit next to each other.
                ulong start = (ulong)random.Next(1000);
                ulong last = start + (ulong)random.Next(random.Next(2) == 0 ? 5 : 200);
                var range = new ReservedRange(start, last, owners[random.Next(owners.Length)]);
                ranges.Add(range);
                reference.Add(range);
            }

            Assert.Equal(reference.Count, ranges.Count);
            for (int q = 0; q < 20; q++)
            {
                ulong a = (ulong)random.Next(1300), b = a + (ulong)random.Next(60);
                Assert.Equal(reference.Any(r => r.Intersects(a, b)), ranges.Intersects(a, b));

                // The first touching range from a, its start clipped to a; where several start there, they reach as far as the longest.
                var touching = reference.Where(r => r.Last >= a && r.Start <= b).ToList();
                bool found = ranges.FirstFrom(a, b, out ulong start, out ulong last);
                Assert.Equal(touching.Count > 0, found);
                if (found)
                {
                    ulong expectedStart = touching.Min(r => Math.Max(r.Start, a));
                    Assert.Equal(expectedStart, start);
                    Assert.Equal(touching.Where(r => Math.Max(r.Start, a) == expectedStart).Max(r => r.Last), last);
                }
            }
        }

        // All stays sorted by start.
        ReservedRange[] all = ranges.All.ToArray();
        Assert.Equal(all.OrderBy(r => r.Start).Select(r => r.Start), all.Select(r => r.Start));
    }
}
