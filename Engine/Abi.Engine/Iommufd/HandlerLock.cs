using Abi.Engine.Process;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The lock ioctl handlers take: an iommufd context's (held for every ioctl but IOAS_MAP and
/// IOAS_UNMAP, see <see cref="IommufdFile.EnterExclusive()"/>) and each IOAS's IOVA lock (the kernel's
/// <c>iopt->iova_rwsem</c>, taken for writing: map and unmap of one IOAS run one at a time, those of
/// different IOASes side by side). Re-entrant: a handler's callbacks come back into the context (an
/// unmap notifies an access, whose device unpins through it).
/// <para>
/// One compare-exchange in and one store out. <see cref="Lock"/> pays an atomic each way (about
/// 6 ns each in this VM), which a profile of the map+unmap pair showed as 17% of its time. Nothing
/// is woken on the way out, so leaving needs no atomic: waiters spin, then yield, then sleep
/// (<see cref="SpinWait"/>), as the DMA gate's do. Handlers are short.
/// </para>
/// <para>
/// Waiting is bounded as the kernel's rw_semaphore bounds it (kernel/locking/rwsem.c, the handoff
/// flag): a waiter that has waited <see cref="HandoffAfterMilliseconds"/> (4 ms, the rwsem's
/// RWSEM_WAIT_TIMEOUT at HZ=250) claims the next turn, and from then on nobody else takes the free
/// lock, newcomers included, until it has. One claim at a time; the next long waiter claims after it.
/// The fast path pays one more load of the same line.
/// </para>
/// </summary>
internal sealed class HandlerLock(int handoffAfterMilliseconds = HandlerLock.DefaultHandoffMilliseconds)
{
    /// <summary>How long a waiter waits before it claims the next turn by default.</summary>
    public const int DefaultHandoffMilliseconds = 4;

    private int _owner;              // managed thread id of the holder, 0 when free
    private int _handoff;            // the waiter whose turn is next, 0 when none has claimed it
    private int _depth;

    /// <summary>How long a waiter waits before it claims the next turn.</summary>
    public int HandoffAfterMilliseconds { get; } = handoffAfterMilliseconds;

    /// <summary>The thread whose turn is next (it has waited too long), or 0.</summary>
    public int HandoffWaiter => Volatile.Read(ref _handoff);

    /// <summary>Whether the holder's current entry is its outermost one; only the holder may ask.</summary>
    public bool IsOutermost => _depth == 1;

    /// <summary>Enters; true when this is the calling thread's outermost entry.</summary>
    public bool Enter() => Enter(EngineThread.Current.Id);

    /// <summary>Enters for the thread <paramref name="me"/> (the caller's <see cref="EngineThread.Id"/>); true when this is its outermost entry.</summary>
    public bool Enter(int me)
    {
        // Only the holder ever stores its own id, so seeing it means this thread holds the lock.
        if (Volatile.Read(ref _owner) == me)
        {
            _depth++;
            return false;
        }

        if (Volatile.Read(ref _handoff) != 0 || Interlocked.CompareExchange(ref _owner, me, 0) != 0)
        {
            Wait(me);
        }

        _depth = 1;
        return true;
    }

    /// <summary>Leaves one entry; the lock is free after the outermost.</summary>
    public void Exit()
    {
        if (--_depth == 0)
        {
            Volatile.Write(ref _owner, 0);
        }
    }

    /// <summary>Enters for the thread <paramref name="me"/>, and returns the scope whose disposal leaves.</summary>
    public Scope EnterScope(int me)
    {
        Enter(me);
        return new Scope(this);
    }

    private void Wait(int me)
    {
        SpinWait spin = default;
        long since = Environment.TickCount64;
        bool claimed = false;
        while (true)
        {
            int handoff = Volatile.Read(ref _handoff);
            if ((handoff == 0 || handoff == me) && Volatile.Read(ref _owner) == 0 && Interlocked.CompareExchange(ref _owner, me, 0) == 0)
            {
                break;
            }

            if (handoff == 0 && Environment.TickCount64 - since >= HandoffAfterMilliseconds)
            {
                claimed = Interlocked.CompareExchange(ref _handoff, me, 0) == 0;
            }

            spin.SpinOnce();
        }

        if (claimed)
        {
            Volatile.Write(ref _handoff, 0);
        }
    }

    /// <summary>A held lock; dispose to leave.</summary>
    public readonly ref struct Scope(HandlerLock owner)
    {
        public void Dispose() => owner.Exit();
    }
}
