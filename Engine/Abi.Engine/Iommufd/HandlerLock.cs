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
/// </summary>
internal sealed class HandlerLock
{
    private int _owner;              // managed thread id of the holder, 0 when free
    private int _depth;

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

        if (Interlocked.CompareExchange(ref _owner, me, 0) != 0)
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
        while (Volatile.Read(ref _owner) != 0 || Interlocked.CompareExchange(ref _owner, me, 0) != 0)
        {
            spin.SpinOnce();
        }
    }

    /// <summary>A held lock; dispose to leave.</summary>
    public readonly ref struct Scope(HandlerLock owner)
    {
        public void Dispose() => owner.Exit();
    }
}
