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
/// <para>
/// Biased to its first thread. Most programs drive a context from one thread, and for them even the
/// one compare-exchange is the costliest step of a map or unmap (it drains the stores before it). The
/// first thread to enter claims the lock (one compare-exchange, once) and from then on enters with a
/// plain store to <c>_biasHeld</c> and a second look at the claim, leaves with a plain store. Another
/// thread that wants the lock revokes the claim for good: it marks it revoking, makes every thread of
/// the process pass a full barrier (<see cref="Interlocked.MemoryBarrierProcessWide"/>: the kernel's
/// membarrier, the slow side of an asymmetric Dekker handshake), then waits for <c>_biasHeld</c> to
/// clear. After the barrier the owner's store is either visible, so the revoker waits for it, or made
/// after it, so the owner's second look sees the revocation and backs off to the compare-exchange;
/// never both in. From then on the lock is the compare-exchange lock above.
/// </para>
/// </summary>
internal sealed class HandlerLock(int handoffAfterMilliseconds = HandlerLock.DefaultHandoffMilliseconds)
{
    /// <summary>How long a waiter waits before it claims the next turn by default.</summary>
    public const int DefaultHandoffMilliseconds = 4;

    private const int Revoking = -1, Revoked = -2;

    private int _owner;              // managed thread id of the holder, 0 when free
    private int _handoff;            // the waiter whose turn is next, 0 when none has claimed it
    private int _depth;              // the holder's nesting; only the holder touches it
    private bool _viaBias;           // how the holder entered; only the holder touches it
    private int _bias;               // the thread the lock is biased to, 0 before any, or Revoking/Revoked
    private int _biasOwner;          // that thread, kept after revocation for its nesting check
    private int _biasHeld;           // 1 while the bias owner holds it through the bias; only it writes

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
        // Only the holder ever stores its own id, and only the bias owner its hold, so seeing either
        // means this thread holds the lock.
        if (Volatile.Read(ref _owner) == me || (_biasOwner == me && _biasHeld != 0))
        {
            _depth++;
            return false;
        }

        int bias = Volatile.Read(ref _bias);
        if (bias == 0 && Interlocked.CompareExchange(ref _bias, me, 0) == 0)
        {
            _biasOwner = me;
            bias = me;
        }

        if (bias == me)
        {
            // The store, then the second look: a revoker's process-wide barrier orders them (see above).
            Volatile.Write(ref _biasHeld, 1);
            if (Volatile.Read(ref _bias) == me)
            {
                _depth = 1;
                _viaBias = true;
                return true;
            }

            Volatile.Write(ref _biasHeld, 0);
        }
        else if (bias != Revoked)
        {
            Revoke();
        }

        if (Volatile.Read(ref _handoff) != 0 || Volatile.Read(ref _biasHeld) != 0 || Interlocked.CompareExchange(ref _owner, me, 0) != 0)
        {
            Wait(me);
        }

        _depth = 1;
        _viaBias = false;
        return true;
    }

    /// <summary>Leaves one entry; the lock is free after the outermost.</summary>
    public void Exit()
    {
        if (--_depth == 0)
        {
            if (_viaBias)
            {
                Volatile.Write(ref _biasHeld, 0);
            }
            else
            {
                Volatile.Write(ref _owner, 0);
            }
        }
    }

    /// <summary>Ends the bias for good; returns once the bias owner can only enter by the compare-exchange.</summary>
    private void Revoke()
    {
        SpinWait spin = default;
        while (true)
        {
            int bias = Volatile.Read(ref _bias);
            if (bias == Revoked)
            {
                return;
            }

            if (bias > 0 && Interlocked.CompareExchange(ref _bias, Revoking, bias) == bias)
            {
                Interlocked.MemoryBarrierProcessWide();
                Volatile.Write(ref _bias, Revoked);
                return;
            }

            // Another thread is revoking (its barrier not yet passed), or just claimed the bias.
            spin.SpinOnce();
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
            if ((handoff == 0 || handoff == me) && Volatile.Read(ref _owner) == 0 && Volatile.Read(ref _biasHeld) == 0 && Interlocked.CompareExchange(ref _owner, me, 0) == 0)
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
