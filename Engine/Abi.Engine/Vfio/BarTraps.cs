using Abi.Runtime.Kernel;

namespace Abi.Engine.Vfio;

/// <summary>
/// The BAR mmaps of a process, each with whether its device decodes it now. Register BARs a C program
/// mapped (through the interposer) are inaccessible pages, so that every load or store faults, and the
/// interposer's fault handler hands the access to the BAR's model here, as a hypervisor turns a guest's
/// MMIO into an exit; memory BARs are mapped for real and have no handler. Few and long-lived: a list.
/// </summary>
internal sealed class BarTraps
{
    // Offset: the register offset the trap's first byte stands for (a partial munmap leaves a tail).
    // Decoding: whether the device answers accesses now (memory decoding on, not in low power).
    private readonly List<(ulong Start, ulong Length, IMmioHandler? Handler, long Offset, Func<bool> Decoding)> _traps = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// Records [start, start + length), a mapping of the BAR from <paramref name="offset"/> on, which
    /// <paramref name="decoding"/> says the device answers (null: always); trapped when it has a
    /// <paramref name="handler"/> (registers), not when it is memory mapped for real (null).
    /// </summary>
    public void Add(ulong start, ulong length, IMmioHandler? handler, long offset = 0, Func<bool>? decoding = null)
    {
        lock (_lock)
        {
            Remove(start, length);
            _traps.Add((start, length, handler, offset, decoding ?? (static () => true)));
        }
    }

    /// <summary>Forgets [start, start + length): a trap that overlaps it keeps what lies outside, as munmap splits a vma.</summary>
    public void Remove(ulong start, ulong length)
    {
        ulong end = start + length < start ? ulong.MaxValue : start + length;
        lock (_lock)
        {
            for (int i = _traps.Count - 1; i >= 0; i--)
            {
                (ulong first, ulong size, IMmioHandler? handler, long offset, Func<bool> decoding) = _traps[i];
                ulong past = first + size;
                if (first >= end || start >= past)
                {
                    continue;
                }

                _traps.RemoveAt(i);
                if (first < start)
                {
                    _traps.Add((first, start - first, handler, offset, decoding));
                }

                if (past > end)
                {
                    _traps.Add((end, past - end, handler, offset + (long)(end - first), decoding));
                }
            }
        }
    }

    /// <summary>
    /// The handler and offset for an access of <paramref name="size"/> bytes at <paramref name="address"/>,
    /// if a trap covers it, and whether the device answers it now.
    /// </summary>
    public bool TryFind(ulong address, int size, out IMmioHandler? handler, out long offset, out bool decoding)
    {
        Func<bool>? live = null;
        handler = null;
        offset = 0;
        lock (_lock)
        {
            foreach ((ulong start, ulong length, IMmioHandler? h, long first, Func<bool> d) in _traps)
            {
                if (h is not null && address >= start && address - start + (ulong)size <= length)
                {
                    handler = h;
                    offset = first + (long)(address - start);
                    live = d;
                    break;
                }
            }
        }

        decoding = live?.Invoke() ?? false;
        return handler is not null;
    }

    /// <summary>
    /// Whether every BAR mapping that overlaps [start, start + length) is decoded by its device now:
    /// vfio_pci_vmf_insert_pfn refuses to fault one in otherwise, and memory decoding turned off zaps
    /// what was faulted in (vfio_pci_zap_bars), so nothing can pin or follow such a page.
    /// </summary>
    public bool Decoded(ulong start, ulong length)
    {
        ulong end = start + length < start ? ulong.MaxValue : start + length;
        List<Func<bool>>? checks = null;    // made only for a range that reaches a BAR mapping
        lock (_lock)
        {
            foreach ((ulong first, ulong size, _, _, Func<bool> decoding) in _traps)
            {
                if (first < end && start < first + size)
                {
                    (checks ??= []).Add(decoding);
                }
            }
        }

        return checks is null || checks.TrueForAll(static decodes => decodes());
    }

    /// <summary>The handler and offset for an access of <paramref name="size"/> bytes at <paramref name="address"/>, if a trap covers it.</summary>
    public bool TryFind(ulong address, int size, out IMmioHandler? handler, out long offset) => TryFind(address, size, out handler, out offset, out _);
}
