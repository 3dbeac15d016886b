using System.Numerics;
using CommunityToolkit.HighPerformance.Buffers;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The dirty bits of one domain, one per IOPTE granule (4 KiB on the engine's VT-d unit, 2 KiB on
/// the selftest's mock), kept sparse: 64 granules to a word, so a 1 GiB harvest of a 4 KiB-granule
/// domain visits 4096 keys whatever the IOAS looks like. Writers (device DMA) and the harvest share one lock; marking is skipped
/// entirely unless tracking is on.
/// </summary>
internal sealed class DirtyBitmap
{
    private readonly int _shift;
    private readonly Dictionary<ulong, ulong> _words = [];
    private readonly Lock _lock = new();

    public DirtyBitmap(int granuleShift) => _shift = granuleShift;

    /// <summary>Marks every page touched by [iova, iova + length).</summary>
    public void Mark(ulong iova, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        ulong first = iova >> _shift;
        ulong last = (iova + (length - 1)) >> _shift;
        lock (_lock)
        {
            for (ulong page = first; page <= last; page++)
            {
                ref ulong word = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_words, page >> 6, out _);
                word |= 1UL << (int)(page & 63);
                if (page == ulong.MaxValue >> _shift)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Clears the pages of [iova, last] (unmap, or enabling tracking). Costs nothing when no page is dirty.</summary>
    public void Clear(ulong iova, ulong last)
    {
        lock (_lock)
        {
            if (_words.Count == 0)
            {
                return;
            }

            ulong firstPage = iova >> _shift, lastPage = last >> _shift;
            ulong firstKey = firstPage >> 6, lastKey = lastPage >> 6;
            if (lastKey - firstKey < (ulong)_words.Count)
            {
                // A range smaller than the set: visit its words.
                for (ulong key = firstKey; ; key++)
                {
                    ClearWord(key, firstPage, lastPage);
                    if (key == lastKey)
                    {
                        break;
                    }
                }
            }
            else
            {
                foreach (ulong key in _words.Keys.ToArray())
                {
                    if (key >= firstKey && key <= lastKey)
                    {
                        ClearWord(key, firstPage, lastPage);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Sets bit n of <paramref name="bitmap"/> for each granule n of <paramref name="pageSize"/> bytes
    /// from <paramref name="iova"/> that holds a dirty page, over <paramref name="length"/> bytes;
    /// clears what it reported unless <paramref name="keep"/>. Only sets bits, like the kernel.
    /// </summary>
    public void Harvest(ulong iova, ulong length, ulong pageSize, Span<ulong> bitmap, bool keep) => Harvest(iova, iova, length, pageSize, bitmap, keep);

    /// <summary>
    /// As <see cref="Harvest(ulong, ulong, ulong, Span{ulong}, bool)"/> over [<paramref name="iova"/>,
    /// <paramref name="iova"/> + <paramref name="length"/>), with bit 0 of <paramref name="bitmap"/> at
    /// <paramref name="origin"/> (at or below <paramref name="iova"/>): part of a bitmap's window.
    /// </summary>
    public void Harvest(ulong origin, ulong iova, ulong length, ulong pageSize, Span<ulong> bitmap, bool keep)
    {
        ulong firstPage = iova >> _shift;
        ulong lastPage = (iova + (length - 1)) >> _shift;
        int granuleShift = BitOperations.TrailingZeroCount(pageSize);
        lock (_lock)
        {
            // A range wider than the dirty words held is visited through the words, not key by key.
            ulong firstKey = firstPage >> 6, lastKey = lastPage >> 6;
            if (lastKey - firstKey > (ulong)_words.Count)
            {
                using SpanOwner<ulong> keys = SpanOwner<ulong>.Allocate(_words.Count);
                int n = 0;
                foreach (ulong key in _words.Keys)
                {
                    if (key >= firstKey && key <= lastKey)
                    {
                        keys.Span[n++] = key;
                    }
                }

                foreach (ulong key in keys.Span[..n])
                {
                    HarvestWord(key, origin, iova, length, firstPage, lastPage, granuleShift, bitmap, keep);
                }

                return;
            }

            for (ulong key = firstKey; key <= lastKey; key++)
            {
                HarvestWord(key, origin, iova, length, firstPage, lastPage, granuleShift, bitmap, keep);
            }
        }
    }

    private void HarvestWord(ulong key, ulong origin, ulong iova, ulong length, ulong firstPage, ulong lastPage, int granuleShift, Span<ulong> bitmap, bool keep)
    {
        if (!_words.TryGetValue(key, out ulong word))
        {
            return;
        }

        ulong wordFirst = key << 6;
        ulong mask = RangeMask(wordFirst, firstPage, lastPage);

        ulong hits = word & mask;
        if (hits == 0)
        {
            return;
        }

        ulong originPage = origin >> _shift;
        ulong offsetPages = wordFirst >= firstPage ? wordFirst - originPage : 0;
        if (granuleShift == _shift && wordFirst >= firstPage && (origin & ((1UL << _shift) - 1)) == 0 && (offsetPages & 63) == 0)
        {
            // 4 KiB granules aligned to a word: the word is the bitmap word.
            bitmap[(int)(offsetPages >> 6)] |= hits;
        }
        else
        {
            for (ulong rest = hits; rest != 0; rest &= rest - 1)
            {
                // A dirty page marks every granule it overlaps (granules may be smaller than a page).
                ulong page = wordFirst + (ulong)BitOperations.TrailingZeroCount(rest);
                ulong from = Math.Max(page << _shift, iova) - origin;
                ulong to = Math.Min((page << _shift) + ((1UL << _shift) - 1), iova + (length - 1)) - origin;
                for (ulong bit = from >> granuleShift; bit <= to >> granuleShift; bit++)
                {
                    bitmap[(int)(bit >> 6)] |= 1UL << (int)(bit & 63);
                }
            }
        }

        if (!keep)
        {
            ulong remaining = word & ~mask;
            if (remaining == 0)
            {
                _words.Remove(key);
            }
            else
            {
                _words[key] = remaining;
            }
        }
    }

    private void ClearWord(ulong key, ulong firstPage, ulong lastPage)
    {
        if (!_words.TryGetValue(key, out ulong value))
        {
            return;
        }

        value &= ~RangeMask(key << 6, firstPage, lastPage);
        if (value == 0)
        {
            _words.Remove(key);
        }
        else
        {
            _words[key] = value;
        }
    }

    /// <summary>The bits of the word starting at page <paramref name="wordFirst"/> that fall in [<paramref name="firstPage"/>, <paramref name="lastPage"/>].</summary>
    private static ulong RangeMask(ulong wordFirst, ulong firstPage, ulong lastPage)
    {
        ulong mask = ~0UL;
        if (wordFirst < firstPage)
        {
            mask &= ~0UL << (int)(firstPage - wordFirst);
        }

        if (wordFirst + 63 > lastPage)
        {
            mask &= ~0UL >> (int)(wordFirst + 63 - lastPage);
        }

        return mask;
    }
}
