namespace Abi.Engine.Iommufd;

/// <summary>
/// The io-pagetable's DMA gate: device accesses enter it to read, map and unmap to write. It does
/// what <see cref="ReaderWriterLockSlim"/> did here at a fraction of the cost on the map/unmap path
/// (one compare-exchange in, one store out, against about 18 ns per section in this VM's profile):
/// writers nest (a replace is a remove and an insert), and a waiting writer holds off new readers
/// unless the thread already reads (a burst that reads again must not wait for a writer that waits
/// for it), so unmaps are not starved by overlapping bursts. Waiting spins, then yields, then sleeps
/// (<see cref="SpinWait"/>).
/// <para>
/// Writers are already one at a time: each holds its table's owner lock (an IOAS's IOVA lock, a
/// type1 container's lock). So a writer that finds a write section open is inside it itself, and
/// nesting needs no thread id (asking the runtime for one cost as much as the compare-exchange). A
/// write section holds only the change to the areas and the counts that follow it; nothing inside
/// one reads or writes memory through the table, so no thread reads inside its own write section.
/// </para>
/// </summary>
internal sealed class DmaGate
{
    [ThreadStatic]
    private static int s_reading;

    private int _state;              // readers inside, or -1 while a writer is
    private int _writersWaiting;
    private int _depth;              // the writer's nesting; only the writer inside touches it

    /// <summary>Enters the write section; the caller holds the table's owner lock.</summary>
    public void EnterWrite()
    {
        if (_depth != 0)
        {
            _depth++;
            return;
        }

        if (Interlocked.CompareExchange(ref _state, -1, 0) != 0)
        {
            WaitToWrite();
        }

        _depth = 1;
    }

    public void ExitWrite()
    {
        if (--_depth == 0)
        {
            Volatile.Write(ref _state, 0);
        }
    }

    public void EnterRead()
    {
        int state = Volatile.Read(ref _state);
        if (state < 0 || (Volatile.Read(ref _writersWaiting) != 0 && s_reading == 0) || Interlocked.CompareExchange(ref _state, state + 1, state) != state)
        {
            WaitToRead();
        }

        s_reading++;
    }

    public void ExitRead()
    {
        s_reading--;
        Interlocked.Decrement(ref _state);
    }

    private void WaitToWrite()
    {
        Interlocked.Increment(ref _writersWaiting);
        SpinWait spin = default;
        while (Interlocked.CompareExchange(ref _state, -1, 0) != 0)
        {
            spin.SpinOnce();
        }

        Interlocked.Decrement(ref _writersWaiting);
    }

    private void WaitToRead()
    {
        SpinWait spin = default;
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state >= 0 && (Volatile.Read(ref _writersWaiting) == 0 || s_reading > 0) && Interlocked.CompareExchange(ref _state, state + 1, state) == state)
            {
                return;
            }

            spin.SpinOnce();
        }
    }
}
