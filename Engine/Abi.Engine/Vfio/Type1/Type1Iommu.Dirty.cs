using System.Runtime.InteropServices;
using Abi.Engine.Iommufd;
using Abi.Engine.Process;
using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio.Type1;

/// <summary>
/// The mappings' dirty bitmaps while tracking runs (vfio_iommu_type1.c: <c>vfio_dma-&gt;bitmap</c>): one
/// per mapping, made zeroed when tracking starts (vfio_dma_bitmap_alloc_all) or when a mapping is made
/// under it (vfio_dma_do_map), dropped with the mapping (vfio_remove_dma) and when tracking stops.
/// Every group in an engine container is a physical device's, never an emulated IOMMU's, so
/// num_non_pinned_groups is never 0 and each report marks all the mapping's pages dirty first.
/// <para>
/// A report is update_user_bitmap's, word for word, since what reaches the caller's memory depends on
/// it: only the u64 words a mapping covers are written, nothing at all when no mapping is in the
/// range; a mapping that starts inside a word reads that word first and ORs it in whole (bitmap_or
/// over one long); the bits past the mapping's end in its last word are written with whatever the
/// kernel's bitmap holds there (__bitmap_shift_left does not mask), which after a GET_BITMAP report
/// (it clears only the mapping's own bits) includes the bits shifted up in the report before.
/// </para>
/// </summary>
internal sealed partial class Type1Iommu
{
    private const ulong MaxBitmapPages = int.MaxValue;        // vfio_iommu_type1.c: DIRTY_BITMAP_PAGES_MAX (not UAPI)
    private readonly Dictionary<ulong, ulong[]> _dirtyBitmaps = [];

    /// <summary>
    /// VFIO_IOMMU_DIRTY_PAGES START: a zeroed bitmap per mapping (none of its pages is pinned by an
    /// emulated device); EINVAL, with tracking still off and no bitmap kept, when a mapping has more
    /// pages than a bitmap may count (vfio_dma_bitmap_alloc_all).
    /// </summary>
    private int StartDirtyTracking()
    {
        if (DirtyTracking)
        {
            return 0;     // the bitmaps stay as they are
        }

        foreach (Area area in Table.AreasIn(0, ulong.MaxValue))
        {
            if (area.Length / MinPage > MaxBitmapPages)
            {
                _dirtyBitmaps.Clear();
                return Fail(Errno.EINVAL, $"the mapping at 0x{area.Iova:X} has more pages than a dirty bitmap counts (DIRTY_BITMAP_PAGES_MAX)");
            }

            _dirtyBitmaps[area.Iova] = NewDirtyBitmap(area.Length);
        }

        DirtyTracking = true;
        return 0;
    }

    /// <summary>VFIO_IOMMU_DIRTY_PAGES STOP (vfio_dma_bitmap_free_all).</summary>
    private void StopDirtyTracking()
    {
        DirtyTracking = false;
        _dirtyBitmaps.Clear();
    }

    /// <summary>
    /// A mapping made while tracking runs gets its bitmap (vfio_dma_do_map: vfio_dma_bitmap_alloc);
    /// EINVAL when it has more pages than a bitmap counts, and the caller removes it again.
    /// </summary>
    private int? TrackNewMapping(ulong iova, ulong size)
    {
        if (!DirtyTracking)
        {
            return null;
        }

        if (size / MinPage > MaxBitmapPages)
        {
            return Fail(Errno.EINVAL, $"{size / MinPage} pages are more than a dirty bitmap counts (DIRTY_BITMAP_PAGES_MAX)");
        }

        _dirtyBitmaps[iova] = NewDirtyBitmap(size);
        return null;
    }

    /// <summary>DIRTY_BITMAP_BYTES(npages) + sizeof(u64): one spare word for the shift of a report.</summary>
    private static ulong[] NewDirtyBitmap(ulong length) => new ulong[checked((int)(((length / MinPage) + 63) / 64) + 1)];

    /// <summary>
    /// update_user_bitmap: the mapping's pages into the caller's bitmap at <paramref name="userBitmap"/>,
    /// whose bit 0 is <paramref name="baseIova"/>; EFAULT when the first word cannot be read (a mapping
    /// that starts inside it) or the words cannot be written.
    /// </summary>
    private unsafe int? ReportDirty(ulong userBitmap, in Area dma, ulong baseIova)
    {
        ulong[] bits = BitmapOf(dma);
        ulong count = dma.Length / MinPage;
        ulong bitOffset = (dma.Iova - baseIova) / MinPage;
        ulong at = userBitmap + (bitOffset / 64 * sizeof(ulong));
        int shift = (int)(bitOffset % 64);
        SetBits(bits, count, value: true);
        if (shift != 0)
        {
            ShiftLeft(bits, shift, count + (ulong)shift);
            if (!UserAccess.TryRead(at, out ulong leftover))
            {
                return Fail(Errno.EFAULT, $"the bitmap's word at 0x{at:X} cannot be read");
            }

            bits[0] |= leftover;
        }

        int words = (int)((count + (ulong)shift + 63) / 64);
        return UserAccess.TryWrite(at, MemoryMarshal.AsBytes(bits.AsSpan(0, words))) ? null : Fail(Errno.EFAULT, $"the bitmap's words at 0x{at:X} cannot be written");
    }

    /// <summary>vfio_iova_dirty_bitmap after each report: the mapping's own bits are cleared (bitmap_clear), nothing above them.</summary>
    private void ClearReported(in Area dma) => SetBits(BitmapOf(dma), dma.Length / MinPage, value: false);

    /// <summary>The mapping's bitmap; every mapping has one while tracking runs (made here should one ever be missing, never a crash).</summary>
    private ulong[] BitmapOf(in Area dma)
    {
        if (!_dirtyBitmaps.TryGetValue(dma.Iova, out ulong[]? bits))
        {
            _dirtyBitmaps[dma.Iova] = bits = NewDirtyBitmap(dma.Length);
        }

        return bits;
    }

    /// <summary>bitmap_set / bitmap_clear of bits [0, <paramref name="count"/>).</summary>
    private static void SetBits(ulong[] bits, ulong count, bool value)
    {
        int whole = (int)(count / 64);
        bits.AsSpan(0, whole).Fill(value ? ulong.MaxValue : 0);
        int rest = (int)(count % 64);
        if (rest != 0)
        {
            ulong mask = (1UL << rest) - 1;
            bits[whole] = value ? bits[whole] | mask : bits[whole] & ~mask;
        }
    }

    /// <summary>__bitmap_shift_left in place, by less than a word, over BITS_TO_LONGS(<paramref name="count"/>) words, unmasked.</summary>
    private static void ShiftLeft(ulong[] bits, int shift, ulong count)
    {
        for (int k = (int)((count + 63) / 64) - 1; k >= 0; k--)
        {
            ulong lower = k > 0 ? bits[k - 1] >> (64 - shift) : 0;
            bits[k] = (bits[k] << shift) | lower;
        }
    }
}
