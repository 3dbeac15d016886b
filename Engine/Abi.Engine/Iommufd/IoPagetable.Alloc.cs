using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>IOVA placement (io_pagetable.c: iopt_check_iova, iopt_alloc_iova) and the free IOVA the table reports.</summary>
internal sealed partial class IoPagetable
{
    /// <summary>
    /// The IOVA that is not reserved: the complement of the reserved ranges over [0, 2^64-1],
    /// ascending, into <paramref name="destination"/> (room for <c>Reserved.Count + 1</c> ranges);
    /// returns how many there are.
    /// </summary>
    public int Holes(Span<(ulong Start, ulong Last)> destination)
    {
        int count = 0;
        ulong cursor = 0;
        foreach ((ulong start, ulong last) in _reserved.All)          // by start
        {
            if (last < cursor)
            {
                continue;
            }

            if (start > cursor)
            {
                destination[count++] = (cursor, start - 1);
            }

            if (last == ulong.MaxValue)
            {
                return count;
            }

            cursor = Math.Max(cursor, last + 1);
        }

        destination[count++] = (cursor, ulong.MaxValue);
        return count;
    }

    /// <summary>Checks a fixed placement (iopt_check_iova): alignment EINVAL, overflow EOVERFLOW, reserved EINVAL, overlap EEXIST.</summary>
    public int CheckFixed(ulong iova, ulong length)
    {
        if ((iova & (Alignment - 1)) != 0)
        {
            return Fail(Errno.EINVAL, $"iova 0x{iova:X} is not aligned to the IOAS alignment 0x{Alignment:X}");
        }

        if (iova + (length - 1) < iova)
        {
            return Fail(Errno.EOVERFLOW, $"iova 0x{iova:X} + length 0x{length:X} wraps past 2^64");
        }

        ulong last = iova + (length - 1);
        if (IntersectsReserved(iova, last))
        {
            return Fail(Errno.EINVAL, $"[0x{iova:X}, 0x{last:X}] touches a reserved IOVA range");
        }

        if (TryGetFirst(iova, last, out _, forChange: true))     // the insert that follows starts at iova
        {
            return Fail(Errno.EEXIST, $"[0x{iova:X}, 0x{last:X}] overlaps an existing mapping");
        }

        return 0;
    }

    /// <summary>
    /// Automatic placement (iopt_alloc_iova): alignment is the power of two covering the length,
    /// reduced to the source address's natural alignment, capped at 2 MiB; the lowest hole that fits,
    /// inside the allowed ranges or [PAGE_SIZE, 2^64 - PAGE_SIZE - 1]; the IOVA keeps the source's
    /// sub-page offset.
    /// </summary>
    public int Allocate(ulong sourceAddress, ulong length, out ulong iova)
    {
        iova = 0;
        if (length == 0 || length >= ulong.MaxValue / 2)
        {
            return Fail(Errno.EOVERFLOW, $"length 0x{length:X} cannot be placed automatically");
        }

        ulong alignment = RoundUpPowerOfTwo(length);
        if (sourceAddress != 0)
        {
            alignment = Math.Min(alignment, 1UL << System.Numerics.BitOperations.TrailingZeroCount(sourceAddress));
        }

        alignment = Math.Min(alignment, MaxAutoAlignment);
        if (alignment < Alignment)
        {
            return Fail(Errno.EINVAL, $"the source address allows alignment 0x{alignment:X}, below the IOAS alignment 0x{Alignment:X}");
        }

        ulong pageOffset = sourceAddress % LinuxConstants.PageSize;
        const ulong SpaceStart = LinuxConstants.PageSize;
        const ulong SpaceLast = ulong.MaxValue - LinuxConstants.PageSize;
        // io_pagetable.c: iopt_alloc_iova aligns each allowed span's start first (__alloc_iova_check_used),
        // then walks the holes from that aligned start: a hole below it is never considered.
        if (_allowed.Count == 0)
        {
            ulong lo = SpaceStart;
            if (CheckRange(ref lo, SpaceLast, length, alignment, pageOffset) && FindHole(lo, SpaceLast, length, alignment, pageOffset, out iova))
            {
                return 0;
            }
        }
        else
        {
            // The span iterator sees touching allowed ranges as one span.
            for (int i = 0; i < _allowed.Count; i++)
            {
                (ulong start, ulong last) = _allowed[i];
                while (i + 1 < _allowed.Count && last != ulong.MaxValue && _allowed[i + 1].Start == last + 1)
                {
                    last = _allowed[++i].Last;
                }

                ulong lo = Math.Max(start, SpaceStart), hi = Math.Min(last, SpaceLast);
                if (lo <= hi && CheckRange(ref lo, hi, length, alignment, pageOffset) && FindHole(lo, hi, length, alignment, pageOffset, out iova))
                {
                    return 0;
                }
            }
        }

        return Fail(Errno.ENOSPC, $"no free IOVA range of 0x{length:X} bytes aligned to 0x{alignment:X}");
    }

    /// <summary>The lowest aligned start in [lo, hi] that avoids reserved ranges and areas and fits the length.</summary>
    private bool FindHole(ulong lo, ulong hi, ulong length, ulong alignment, ulong pageOffset, out ulong iova)
    {
        // Walk the holes between used ranges (areas and reservations) in ascending order.
        ulong cursor = lo;
        while (true)
        {
            (ulong usedStart, ulong usedLast) = NextUsed(cursor, hi);
            ulong holeLast = usedStart == ulong.MaxValue && usedLast == 0 ? hi : usedStart - 1;
            if (usedStart > cursor || (usedStart == ulong.MaxValue && usedLast == 0))
            {
                ulong start = cursor;
                if (CheckRange(ref start, Math.Min(holeLast, hi), length, alignment, pageOffset))
                {
                    iova = start;
                    return true;
                }
            }

            if (usedStart == ulong.MaxValue && usedLast == 0)
            {
                iova = 0;
                return false;
            }

            if (usedLast >= hi)
            {
                iova = 0;
                return false;
            }

            cursor = usedLast + 1;
        }
    }

    /// <summary>The used range (area or reservation) with the lowest start that ends at or after <paramref name="from"/> and starts at or before <paramref name="hi"/>; (MaxValue, 0) if none.</summary>
    private (ulong Start, ulong Last) NextUsed(ulong from, ulong hi)
    {
        ulong bestStart = ulong.MaxValue, bestLast = 0;
        bool found = false;
        if (TryGetFirst(from, hi, out Area area))
        {
            bestStart = Math.Max(area.Iova, from);
            bestLast = area.Last;
            found = true;
        }

        if (_reserved.FirstFrom(from, hi, out ulong s, out ulong last) && (!found || s < bestStart))
        {
            bestStart = s;
            bestLast = last;
            found = true;
        }

        return found ? (bestStart, bestLast) : (ulong.MaxValue, 0);
    }

    /// <summary>The kernel's __alloc_iova_check_range: align up, add the page offset, check it fits before <paramref name="last"/>.</summary>
    private static bool CheckRange(ref ulong start, ulong last, ulong length, ulong alignment, ulong pageOffset)
    {
        if (start + (alignment - 1) < start)
        {
            return false;
        }

        ulong aligned = ((start + (alignment - 1)) & ~(alignment - 1)) | pageOffset;
        if (aligned >= last || last - aligned < length - 1)
        {
            return false;
        }

        start = aligned;
        return true;
    }

    private static ulong RoundUpPowerOfTwo(ulong value) => System.Numerics.BitOperations.RoundUpToPowerOf2(value);
}
