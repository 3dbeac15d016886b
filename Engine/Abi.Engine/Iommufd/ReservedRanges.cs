using System.Runtime.InteropServices;

namespace Abi.Engine.Iommufd;

/// <summary>
/// An io-pagetable's reserved IOVA ranges (io_pagetable.c keeps them in <c>reserved_itree</c>):
/// ranges of different owners may overlap, so they are kept sorted by start with the running
/// maximum of their ends beside them, which answers "does anything reserved touch [a, b]" and
/// "which reserved range comes first from a" with two binary searches. Every map asks the first
/// and every automatic placement the second; reservations change only on attach and detach, where
/// the O(n) rebuild is paid.
/// </summary>
internal sealed class ReservedRanges
{
    private readonly List<ReservedRange> _ranges = [];
    private readonly List<ulong> _maxLast = [];     // _maxLast[i]: the largest Last among _ranges[0..i]

    public int Count => _ranges.Count;

    /// <summary>The ranges, by start; changed through <see cref="Add"/> and <see cref="RemoveOwner"/>.</summary>
    public ReadOnlySpan<ReservedRange> All => CollectionsMarshal.AsSpan(_ranges);

    public void Add(ReservedRange range)
    {
        int at = UpperBound(range.Start);
        _ranges.Insert(at, range);
        _maxLast.Insert(at, 0);
        RecomputeFrom(at);
    }

    /// <summary>Drops every range <paramref name="owner"/> added.</summary>
    public void RemoveOwner(object owner)
    {
        if (_ranges.RemoveAll(r => ReferenceEquals(r.Owner, owner)) > 0)
        {
            _maxLast.RemoveRange(_ranges.Count, _maxLast.Count - _ranges.Count);
            RecomputeFrom(0);
        }
    }

    /// <summary>Whether a reserved range touches [<paramref name="start"/>, <paramref name="last"/>].</summary>
    public bool Intersects(ulong start, ulong last)
    {
        // Only ranges starting at or before last can touch it; among them, one must end at or after start.
        int count = UpperBound(last);
        return count > 0 && _maxLast[count - 1] >= start;
    }

    /// <summary>
    /// The reserved range that touches [<paramref name="from"/>, <paramref name="hi"/>] with the lowest
    /// start clipped to <paramref name="from"/>, as (clipped start, its last); false if none touches.
    /// </summary>
    public bool FirstFrom(ulong from, ulong hi, out ulong start, out ulong last)
    {
        // A range starting at or before from and reaching it wins (clipped to from): the one reaching furthest.
        int before = UpperBound(from);
        if (before > 0 && _maxLast[before - 1] >= from)
        {
            start = from;
            last = _maxLast[before - 1];
            return true;
        }

        // Otherwise the first range starting after from, if it starts by hi; of those with that start, the longest.
        if (before < _ranges.Count && _ranges[before].Start <= hi)
        {
            start = _ranges[before].Start;
            last = _ranges[before].Last;
            for (int i = before + 1; i < _ranges.Count && _ranges[i].Start == start; i++)
            {
                last = Math.Max(last, _ranges[i].Last);
            }

            return true;
        }

        start = last = 0;
        return false;
    }

    // How many ranges start at or before value.
    private int UpperBound(ulong value)
    {
        int lo = 0, hi = _ranges.Count;
        while (lo < hi)
        {
            int mid = (int)((uint)(lo + hi) / 2);
            if (_ranges[mid].Start <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private void RecomputeFrom(int index)
    {
        for (int i = index; i < _ranges.Count; i++)
        {
            ulong previous = i == 0 ? 0 : _maxLast[i - 1];
            _maxLast[i] = Math.Max(previous, _ranges[i].Last);
        }
    }
}
