using Abi.Runtime.Kernel;

namespace Abi.Engine.Process;

/// <summary>
/// The user memory the engine may touch: ranges it mapped itself (<see cref="EmulatedKernel.Mmap"/>)
/// and ranges a caller registered. The engine never dereferences an address outside them; pinning
/// such an address fails with EFAULT, as pinning an unmapped page does in the kernel.
/// <para>
/// Unmapping memory takes <see cref="Lock"/> for writing and bumps <see cref="Generation"/>: device
/// accesses hold it for reading (see IoPagetable.BeginDma), and each burst drops the translations
/// cached under an older generation as it starts, so once munmap returns no DMA reaches the memory it removed.
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
    private readonly SortedList<ulong, ulong> _readOnlyPeers = [];  // BAR mmaps with PROT_READ, without PROT_WRITE
    private Discovery? _discovery;  // from /proc/self/maps, valid while the counter stands
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
            _discovery = null;
        }
    }

    public ReaderWriterLockSlim Lock { get; } = new(LockRecursionPolicy.SupportsRecursion);

    /// <summary>Changes whenever memory is removed; translations cached under an older value are stale.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>
    /// Makes [start, start + length) known process memory. A new mapping replaces whatever the range
    /// held before, as mmap over an existing mapping does, so neighbours keep only what lies outside it.
    /// </summary>
    public void Add(ulong start, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        ulong last = start + length - 1;
        Lock.EnterWriteLock();
        try
        {
            Carve([_ranges, _peers, _readOnlyPeers], start, last);
            _ranges[start] = last;
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Makes [start, start + length) another device's memory (an mmap of a BAR), replacing whatever
    /// the range held (MAP_FIXED over it). Its protection decides what may use it, as
    /// follow_fault_pfn's fault on the VM_PFNMAP area does: readable and writable for any mapping,
    /// readable only for mappings that do not write, and without PROT_READ for none.
    /// </summary>
    public void AddPeer(ulong start, ulong length, int protection)
    {
        if (length == 0)
        {
            return;
        }

        ulong last = start + length - 1;
        Lock.EnterWriteLock();
        try
        {
            Carve([_ranges, _peers, _readOnlyPeers], start, last);
            if ((protection & LinuxConstants.PROT_WRITE) != 0)
            {
                _peers[start] = last;
            }
            else if ((protection & LinuxConstants.PROT_READ) != 0)
            {
                _readOnlyPeers[start] = last;
            }
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Forgets [start, start + length) (munmap): the pages of a known range outside it stay known, as
    /// a partial munmap leaves the rest of a mapping in place.
    /// </summary>
    public void Remove(ulong start, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        ulong last = start + (length - 1) < start ? ulong.MaxValue : start + (length - 1);

        Lock.EnterWriteLock();
        try
        {
            // The generation moves even when nothing known was cut: translations may rest on memory
            // discovered in /proc/self/maps, which the munmap takes away too.
            Carve([_ranges, _peers, _readOnlyPeers], start, last);
            Interlocked.Increment(ref _generation);
        }
        finally
        {
            Lock.ExitWriteLock();
        }
    }

    /// <summary>
    /// Cuts [start, last] out of every range of <paramref name="lists"/>, keeping the parts of a range
    /// outside it (split_vma). Translations cached on what was cut are stale, so the generation moves
    /// when anything was. The caller holds the write lock.
    /// </summary>
    private void Carve(ReadOnlySpan<SortedList<ulong, ulong>> lists, ulong start, ulong last)
    {
        bool cut = false;
        foreach (SortedList<ulong, ulong> list in lists)
        {
            for (int i = list.Count - 1; i >= 0; i--)
            {
                ulong first = list.Keys[i], end = list.Values[i];
                if (first > last || end < start)
                {
                    continue;
                }

                list.RemoveAt(i);
                cut = true;
                if (first < start)
                {
                    list[first] = start - 1;
                }

                if (end > last)
                {
                    list[last + 1] = end;
                }
            }
        }

        if (cut)
        {
            Interlocked.Increment(ref _generation);
        }
    }

    /// <summary>
    /// Whether [start, start + length) lies inside one known range, process memory or device memory;
    /// with <paramref name="write"/> false, read-only process memory counts too.
    /// </summary>
    public bool Contains(ulong start, ulong length, bool write = true) => Known(start, length, peers: true, write) || Discovered(start, length, write);

    /// <summary>
    /// <see cref="Contains"/> for a caller that holds <see cref="Lock"/> for reading already (a DMA
    /// scope): the lock's recursive read entry costs more than the lookup, and an IOTLB miss asked up
    /// to three times.
    /// </summary>
    public bool ContainsHeld(ulong start, ulong length, bool write = true)
    {
        System.Diagnostics.Debug.Assert(Lock.IsReadLockHeld || Lock.IsWriteLockHeld, "ContainsHeld without the memory lock");
        return KnownHeld(start, length, peers: true, write) || Discovered(start, length, write);
    }

    /// <summary>
    /// Whether [start, start + length) is process memory that can be pinned (device memory cannot: iommufd
    /// answers EFAULT). A pin for reading also takes read-only memory (pin_user_pages without FOLL_WRITE).
    /// </summary>
    public bool ContainsPinnable(ulong start, ulong length, bool write = true) => Known(start, length, peers: false, write) || Discovered(start, length, write);

    /// <summary>Bytes of [start, start + length) that are another device's memory (BAR mmaps): what a type1 mapping maps without pinning.</summary>
    public ulong PeerBytes(ulong start, ulong length)
    {
        if (length == 0 || start + length - 1 < start)
        {
            return 0;
        }

        ulong last = start + length - 1, total = 0;
        Lock.EnterReadLock();
        try
        {
            foreach (SortedList<ulong, ulong> ranges in (ReadOnlySpan<SortedList<ulong, ulong>>)[_peers, _readOnlyPeers])
            {
                foreach ((ulong first, ulong end) in ranges)
                {
                    if (first <= last && start <= end)
                    {
                        total += Math.Min(end, last) - Math.Max(first, start) + 1;
                    }
                }
            }
        }
        finally
        {
            Lock.ExitReadLock();
        }

        return total;
    }

    private bool Known(ulong start, ulong length, bool peers, bool write)
    {
        Lock.EnterReadLock();
        try
        {
            return KnownHeld(start, length, peers, write);
        }
        finally
        {
            Lock.ExitReadLock();
        }
    }

    // The caller holds Lock (for reading at least). Adjacent mappings count as one, as a pin or a
    // copy walks from one vma into the next: the range is known when each byte lies in some known
    // range, process memory first, then (for a caller that allows them) another device's.
    private bool KnownHeld(ulong start, ulong length, bool peers, bool write)
    {
        if (length == 0 || start + length - 1 < start)
        {
            return false;
        }

        ulong last = start + length - 1;
        for (ulong next = start; ;)
        {
            if (!Holding(_ranges, next, out ulong end)
                && !(peers && Holding(_peers, next, out end))
                && !(peers && !write && Holding(_readOnlyPeers, next, out end)))
            {
                return false;
            }

            if (end >= last)
            {
                return true;
            }

            next = end + 1;
        }
    }

    private bool Discovered(ulong start, ulong length, bool write = true)
    {
        if (_mappingCounter == null || length == 0 || start + length - 1 < start)
        {
            return false;
        }

        ulong last = start + length - 1;

        // The common case takes no lock: the last snapshot is still valid and covers the range.
        Discovery? seen = Volatile.Read(ref _discovery);
        long counter = Volatile.Read(ref *_mappingCounter);
        if (seen is not null && seen.Counter == counter && seen.Covers(start, last, write))
        {
            return true;
        }

        lock (_discoveryLock)
        {
            counter = Volatile.Read(ref *_mappingCounter);
            if (counter != _seenMappings)
            {
                // Something was unmapped or replaced: what was learned may be gone, and translations cached on it are stale.
                _seenMappings = counter;
                Volatile.Write(ref _discovery, null);
                Interlocked.Increment(ref _generation);
            }

            seen = _discovery;
            if (seen is not null && seen.Covers(start, last, write))
            {
                return true;
            }

            // Read before the new snapshot is published: a munmap racing with the read bumps the
            // counter, so the snapshot it may have missed is never used.
            Discovery fresh = Discovery.Read(counter);
            Volatile.Write(ref _discovery, fresh);
            return fresh.Covers(start, last, write);
        }
    }

    /// <summary>What <c>/proc/self/maps</c> said while the mapping counter stood at <see cref="Counter"/>: sorted, immutable.</summary>
    private sealed class Discovery
    {
        private readonly (ulong Start, ulong Last)[] _writable;
        private readonly (ulong Start, ulong Last)[] _readable;

        private Discovery(long counter, (ulong, ulong)[] writable, (ulong, ulong)[] readable)
        {
            Counter = counter;
            _writable = writable;
            _readable = readable;
        }

        public long Counter { get; }

        public static Discovery Read(long counter)
        {
            ProcessMaps maps = ProcessMaps.Read();
            return new Discovery(
                counter,
                [.. maps.ReadWritable.Select(m => (m.Start, m.Last))],
                [.. maps.All.Where(m => m.Readable).Select(m => (m.Start, m.Last))]);
        }

        /// <summary>Whether adjacent mappings cover [start, last] without a gap; readable ones suffice for a read-only pin.</summary>
        public bool Covers(ulong start, ulong last, bool write)
        {
            (ulong Start, ulong Last)[] ranges = write ? _writable : _readable;
            int lo = 0, hi = ranges.Length - 1, at = -1;
            while (lo <= hi)
            {
                int mid = (int)((uint)(lo + hi) / 2);
                if (ranges[mid].Start <= start)
                {
                    at = mid;
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            for (ulong next = start; at >= 0 && at < ranges.Length && ranges[at].Start <= next && ranges[at].Last >= next; at++)
            {
                if (ranges[at].Last >= last)
                {
                    return true;
                }

                next = ranges[at].Last + 1;
            }

            return false;
        }
    }

    /// <summary>Whether a range of <paramref name="ranges"/> holds <paramref name="address"/>, and its last byte.</summary>
    private static bool Holding(SortedList<ulong, ulong> ranges, ulong address, out ulong last)
    {
        int lo = 0, hi = ranges.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) / 2;
            if (ranges.GetKeyAtIndex(mid) <= address)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        last = found >= 0 ? ranges.GetValueAtIndex(found) : 0;
        return found >= 0 && last >= address;
    }
}
