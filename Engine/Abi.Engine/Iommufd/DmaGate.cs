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
/// <para>
/// Closed to readers until the first one comes. A table that no device or access has read through
/// (a context that maps before it attaches, or never attaches) has nothing to hold off, and there a
/// writer enters with a plain store to <c>_writing</c> and a second look at <c>_readers</c>. The first
/// reader opens the gate for good as the handler lock revokes its bias: it marks the gate opening,
/// makes every thread pass a full barrier (<see cref="Interlocked.MemoryBarrierProcessWide"/>), waits
/// for <c>_writing</c> to clear, then marks it open; writers that look after the barrier see it and
/// take the compare-exchange, and readers wait until it is open.
/// </para>
/// </summary>
internal sealed class DmaGate
{
    [ThreadStatic]
    private static int s_reading;

    private const int Closed = 0, Opening = 1, Open = 2;

    private int _state;              // readers inside, or -1 while a writer is
    private int _writersWaiting;
    private int _depth;              // the writer's nesting; only the writer inside touches it
    private bool _plain;             // how the writer inside entered; only it touches it
    private int _readers;            // Closed until the first reader, then Opening, then Open for good
    private int _writing;            // 1 while a writer is inside through the closed gate; only writers write it

    /// <summary>Whether a reader has ever entered (from then on writers take the compare-exchange).</summary>
    public bool IsOpen => Volatile.Read(ref _readers) == Open;

    /// <summary>Enters the write section; the caller holds the table's owner lock.</summary>
    public void EnterWrite()
    {
        if (_depth != 0)
        {
            _depth++;
            return;
        }

        if (Volatile.Read(ref _readers) == Closed)
        {
            // The store, then the second look: the first reader's process-wide barrier orders them.
            Volatile.Write(ref _writing, 1);
            if (Volatile.Read(ref _readers) == Closed)
            {
                _depth = 1;
                _plain = true;
                return;
            }

            Volatile.Write(ref _writing, 0);
        }

        if (Interlocked.CompareExchange(ref _state, -1, 0) != 0)
        {
            WaitToWrite();
        }

        _depth = 1;
        _plain = false;
    }

    public void ExitWrite()
    {
        if (--_depth == 0)
        {
            if (_plain)
            {
                Volatile.Write(ref _writing, 0);
            }
            else
            {
                Volatile.Write(ref _state, 0);
            }
        }
    }

    public void EnterRead()
    {
        if (Volatile.Read(ref _readers) != Open)
        {
            OpenToReaders();
        }

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

    /// <summary>Opens the gate for good; returns once no writer is inside through the closed gate and none can enter so.</summary>
    private void OpenToReaders()
    {
        SpinWait spin = default;
        if (Interlocked.CompareExchange(ref _readers, Opening, Closed) == Closed)
        {
            Interlocked.MemoryBarrierProcessWide();
            while (Volatile.Read(ref _writing) != 0)
            {
                spin.SpinOnce();
            }

            Volatile.Write(ref _readers, Open);
            return;
        }

        while (Volatile.Read(ref _readers) != Open)
        {
            spin.SpinOnce();
        }
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
