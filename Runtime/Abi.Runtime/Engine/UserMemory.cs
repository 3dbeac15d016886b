namespace Abi.Runtime.Engine;

/// <summary>
/// The user memory the engine may touch: ranges it mapped itself (<see cref="EmulatedKernel.Mmap"/>)
/// and ranges a caller registered. The engine never dereferences an address outside them; pinning
/// such an address fails with EFAULT, as pinning an unmapped page does in the kernel.
/// </summary>
internal sealed class UserMemory
{
    private readonly SortedList<ulong, ulong> _ranges = [];   // start -> last (inclusive)
    private readonly Lock _lock = new();

    public void Add(ulong start, ulong length)
    {
        lock (_lock)
        {
            _ranges[start] = start + length - 1;
        }
    }

    public void Remove(ulong start)
    {
        lock (_lock)
        {
            _ranges.Remove(start);
        }
    }

    /// <summary>Whether [start, start + length) lies inside one known range.</summary>
    public bool Contains(ulong start, ulong length)
    {
        if (length == 0 || start + length - 1 < start)
        {
            return false;
        }

        ulong last = start + length - 1;
        lock (_lock)
        {
            IList<ulong> keys = _ranges.Keys;
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

            return found >= 0 && _ranges.Values[found] >= last;
        }
    }
}
