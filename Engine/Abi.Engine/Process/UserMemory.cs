
namespace Abi.Engine.Process;

/// <summary>
/// The user memory the engine may touch: ranges it mapped itself (<see cref="EmulatedKernel.Mmap"/>)
/// and ranges a caller registered. The engine never dereferences an address outside them; pinning
/// such an address fails with EFAULT, as pinning an unmapped page does in the kernel.
/// <para>
/// Unmapping memory takes <see cref="Lock"/> for writing and bumps <see cref="Generation"/>: device
/// accesses hold it for reading (see IoPagetable.BeginDma) and cached translations carry the
/// generation, so once munmap returns no DMA reaches the memory it removed.
/// </para>
/// </summary>
/// <para>
/// A program that allocates without the engine (a C program under the interposer) can turn on
/// discovery: an address outside the known ranges is then looked up in <c>/proc/self/maps</c>, and
/// readable-writable mappings found there count as process memory until the mapping counter the
/// interposer bumps on munmap/mremap/MAP_FIXED changes.
/// </para>
internal sealed unsafe class UserMemory
{
    private readonly SortedList<ulong, ulong> _ranges = [];   // start -> last (inclusive)
    private readonly SortedList<ulong, ulong> _peers = [];    // device memory (BAR mmaps): reachable, never pinnable
    private readonly SortedList<ulong, ulong> _discovered = [];  // from /proc/self/maps, valid while the counter stands
    private readonly SortedList<ulong, ulong> _discoveredReadOnly = [];  // PROT_READ mappings from /proc/self/maps
    private readonly Lock _discoveryLock = new();
    private long* _mappingCounter;
    private long _seenMappings;
    private long _generation = 1;

    /// <summary>Whether addresses outside the known ranges are looked up in <c>/proc/self/maps</c>.</summary>
    public bool Discovers => _mappingCounter != null;

    /// <summary>Turns on discovery; <paramref name="mappingCounter"/> changes whenever the process's mappings do.</summary>
    public void EnableDiscovery(long* mappingCounter)
    {
        lock (_discoveryLock)
        {
            _mappingCounter = mappingCounter;
            _seenMappings = Volatile.Read(ref *mappingCounter);
            _discovered.Clear();
        }
    }

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
    public bool Contains(ulong start, ulong length) => Within(_ranges, start, length) || Within(_peers, start, length) || Discovered(start, length);

    /// <summary>
    /// Whether [start, start + length) is process memory that can be pinned (device memory cannot: iommufd
    /// answers EFAULT). A pin for reading also takes read-only memory (pin_user_pages without FOLL_WRITE).
    /// </summary>
    public bool ContainsPinnable(ulong start, ulong length, bool write = true) => Within(_ranges, start, length) || Discovered(start, length, write);

    private bool Discovered(ulong start, ulong length, bool write = true)
    {
        if (_mappingCounter == null || length == 0 || start + length - 1 < start)
        {
            return false;
        }

        ulong last = start + length - 1;
        lock (_discoveryLock)
        {
            long counter = Volatile.Read(ref *_mappingCounter);
            if (counter != _seenMappings)
            {
                // Something was unmapped or replaced: what was learned may be gone, and translations cached on it are stale.
                _seenMappings = counter;
                _discovered.Clear();
                _discoveredReadOnly.Clear();
                Interlocked.Increment(ref _generation);
            }

            if (Covered(_discovered, start, last) || (!write && Covered(_discovered, _discoveredReadOnly, start, last)))
            {
                return true;
            }

            ProcessMaps maps = ProcessMaps.Read();
            foreach (ProcessMaps.Mapping mapping in maps.ReadWritable)
            {
                _discovered[mapping.Start] = mapping.Last;
            }

            foreach (ProcessMaps.Mapping mapping in maps.ReadOnly)
            {
                _discoveredReadOnly[mapping.Start] = mapping.Last;
            }

            return Covered(_discovered, start, last) || (!write && Covered(_discovered, _discoveredReadOnly, start, last));
        }
    }

    // Whether the ranges of both lists together cover [start, last] without a gap.
    private static bool Covered(SortedList<ulong, ulong> first, SortedList<ulong, ulong> second, ulong start, ulong last)
    {
        var merged = new SortedList<ulong, ulong>(first.Count + second.Count);
        foreach (SortedList<ulong, ulong> list in (ReadOnlySpan<SortedList<ulong, ulong>>)[first, second])
        {
            for (int i = 0; i < list.Count; i++)
            {
                merged[list.Keys[i]] = list.Values[i];
            }
        }

        return Covered(merged, start, last);
    }

    // Whether adjacent ranges of the list cover [start, last] without a gap.
    private static bool Covered(SortedList<ulong, ulong> ranges, ulong start, ulong last)
    {
        ulong next = start;
        for (int i = 0; i < ranges.Count; i++)
        {
            if (ranges.Keys[i] <= next && ranges.Values[i] >= next)
            {
                if (ranges.Values[i] >= last)
                {
                    return true;
                }

                next = ranges.Values[i] + 1;
            }
        }

        return false;
    }

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
