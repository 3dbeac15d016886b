namespace Abi.Engine.Iommufd;

/// <summary>
/// Which pages of one <see cref="Pages"/> object are pinned, and by how many users (domain areas and
/// access pins alike): disjoint runs of page numbers with a count each. The kernel charges a pages
/// object for its distinct pinned pages (pages.c: npinned / last_npinned, update_pinned), so a page
/// pinned by a domain and by an access, or by two areas that COPY made, is charged once, and a COPY of
/// part of a mapping charges only that part.
/// </summary>
internal sealed class PinnedPages
{
    private List<(long First, long Last, int Count)> _runs = [];
    private List<(long First, long Last, int Count)> _spare = [];

    /// <summary>Pages pinned at least once.</summary>
    public long Distinct { get; private set; }

    /// <summary>Whether page <paramref name="page"/> has at least one user (a domain's area or an access's pin).</summary>
    public bool IsPinned(long page)
    {
        foreach ((long first, long last, int _) in _runs)
        {
            if (page <= last)
            {
                return page >= first;
            }
        }

        return false;
    }

    public void Clear()
    {
        _runs.Clear();
        Distinct = 0;
    }

    /// <summary>Adds <paramref name="delta"/> users to pages [first, last]; returns how many pages became pinned (positive) or unpinned (negative).</summary>
    public long Add(long first, long last, int delta)
    {
        if (first > last || delta == 0)
        {
            return 0;
        }

        // Rebuilt into the spare list (no allocation once both have grown): runs before, the overlap
        // cut into pieces with the new counts (holes filled when adding), runs after.
        List<(long First, long Last, int Count)> result = _spare;
        result.Clear();
        long change = 0;
        long cursor = first;
        foreach ((long f, long l, int c) in _runs)
        {
            if (l < first || f > last)
            {
                if (f > last && cursor <= last)
                {
                    change += Fill(result, cursor, last, delta);
                    cursor = last + 1;
                }

                result.Add((f, l, c));
                continue;
            }

            if (f < first)
            {
                result.Add((f, first - 1, c));
            }

            long from = Math.Max(f, first), to = Math.Min(l, last);
            if (cursor < from)
            {
                change += Fill(result, cursor, from - 1, delta);
            }

            int count = c + delta;
            if (count > 0)
            {
                result.Add((from, to, count));
            }
            else
            {
                change -= to - from + 1;
            }

            cursor = to + 1;
            if (l > last)
            {
                result.Add((last + 1, l, c));
            }
        }

        if (cursor <= last)
        {
            change += Fill(result, cursor, last, delta);
        }

        _spare = _runs;
        _runs = result;
        Distinct += change;
        return change;
    }

    // A hole gains users only when adding; removing users from unpinned pages changes nothing.
    private static long Fill(List<(long First, long Last, int Count)> result, long first, long last, int delta)
    {
        if (delta <= 0)
        {
            return 0;
        }

        result.Add((first, last, delta));
        return last - first + 1;
    }
}
