using Abi.Runtime.Kernel;

namespace Abi.Engine.Vfio;

/// <summary>
/// Register BARs a C program mapped with <c>mmap</c> (through the interposer): inaccessible pages, so
/// that every load or store faults, and the interposer's fault handler hands the access to the BAR's
/// model here, as a hypervisor turns a guest's MMIO into an exit. Few and long-lived: a list.
/// </summary>
internal sealed class BarTraps
{
    private readonly List<(ulong Start, ulong Length, IMmioHandler Handler)> _traps = [];
    private readonly Lock _lock = new();

    public void Add(ulong start, ulong length, IMmioHandler handler)
    {
        lock (_lock)
        {
            Remove(start, length);
            _traps.Add((start, length, handler));
        }
    }

    /// <summary>Forgets every trap that overlaps [start, start + length).</summary>
    public void Remove(ulong start, ulong length)
    {
        lock (_lock)
        {
            _traps.RemoveAll(t => t.Start < start + length && start < t.Start + t.Length);
        }
    }

    /// <summary>The handler and offset for an access of <paramref name="size"/> bytes at <paramref name="address"/>, if a trap covers it.</summary>
    public bool TryFind(ulong address, int size, out IMmioHandler? handler, out long offset)
    {
        lock (_lock)
        {
            foreach ((ulong start, ulong length, IMmioHandler h) in _traps)
            {
                if (address >= start && address - start + (ulong)size <= length)
                {
                    handler = h;
                    offset = (long)(address - start);
                    return true;
                }
            }
        }

        handler = null;
        offset = 0;
        return false;
    }
}
