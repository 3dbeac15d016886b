namespace Abi.Runtime.Engine;

/// <summary>
/// The user memory the engine may touch: ranges it mapped itself (<see cref="EmulatedKernel.Mmap"/>)
/// and ranges a caller registered. The engine never dereferences an address outside them; pinning
/// such an address fails with EFAULT, as pinning an unmapped page does in the kernel.
/// <para>
/// Unmapping memory takes <see cref="Lock"/> for writing and bumps <see cref="Generation"/>: device
/// accesses hold it for reading (see IoasObject.BeginDma) and cached translations carry the
/// generation, so once munmap returns no DMA reaches the memory it removed.
/// </para>
/// </summary>
internal sealed class UserMemory
{
    private readonly SortedList<ulong, ulong> _ranges = [];   // start -> last (inclusive)
    private readonly SortedList<ulong, ulong> _peers = [];    // device memory (BAR mmaps): reachable, never pinnable
    private long _generation = 1;

    public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>Changes whenever memory is removed; translations cached under an older value are stale.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Makes [start, start + length) known; <paramref name="peer"/> marks another device's memory (an mmap of a BAR).</summary>
    public void Add(ulong start, ulong length, bool peer = false)
    {
        Lock.EnterWriteLock();
        try
        {
            (peer ? _peers : _ranges)[start] = start + length - 1;
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    /// <summary>Forgets every known range that overlaps [start, start + length): a partial munmap makes the whole range unknown, which errs on the side of faulting.</summary>
    public void Remove(ulong start, ulong length)
    {
        ulong last = length == 0 ? start : start + (length - 1);
        Lock.EnterWriteLock();
        try
        {
            foreach (SortedList<ulong, ulong> list in (ReadOnlySpan<SortedList<ulong, ulong>>)[_ranges, _peers])
            {
                for (int i = list.Count - 1; i >= 0; i--)
                {
                    if (list.Keys[i] <= last && start <= list.Values[i])
                    {
                        list.RemoveAt(i);
                    }
                }
            }

            Interlocked.Increment(ref _generation);
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    /// <summary>Whether [start, start + length) lies inside one known range, process memory or device memory.</summary>
    public bool Contains(ulong start, ulong length) => Within(_ranges, start, length) || Within(_peers, start, length);

    /// <summary>Whether [start, start + length) is process memory that can be pinned (device memory cannot: iommufd answers EFAULT).</summary>
    public bool ContainsPinnable(ulong start, ulong length) => Within(_ranges, start, length);

    private bool Within(SortedList<ulong, ulong> ranges, ulong start, ulong length)
    {
        if (length == 0 || start + length - 1 < start)
        {
            return false;
        }

        ulong last = start + length - 1;
        Lock.EnterReadLock();
        try
        {
            IList<ulong> keys = ranges.Keys;
            int lo = 0, hi = keys.Count - 1, found = -1;
            while (lo <= hi)
            {
                int mid = (lo + hi) / 2;
                if (keys[mid] <= start)
                {
                    found = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return found >= 0 && ranges.Values[found] >= last;
        }
        finally
        {
            Lock.ExitReadLock();
        }
    }
}
