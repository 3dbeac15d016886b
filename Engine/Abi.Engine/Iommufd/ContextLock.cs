namespace Abi.Engine.Iommufd;

/// <summary>
/// The lock an iommufd context's handlers run under (one per open <c>/dev/iommu</c>). Re-entrant: a
/// handler's callbacks come back into the context (an unmap notifies an access, whose device unpins
/// through it).
/// <para>
/// One compare-exchange in and one store out. <see cref="Lock"/> pays an atomic each way (about
/// 6 ns each in this VM), which a profile of the map+unmap pair showed as 17% of its time. Nothing
/// is woken on the way out, so leaving needs no atomic: waiters spin, then yield, then sleep
/// (<see cref="SpinWait"/>), as the DMA gate's do. Contention is two threads on one context, where
/// the kernel would not serialise at all; handlers are short.
/// </para>
/// <para>
/// Use it as <c>using (x.EnterScope())</c>; a C# <c>lock</c> statement on it would take the object's
/// monitor instead, which nothing else takes.
/// </para>
/// </summary>
internal sealed class ContextLock
{
    private int _owner;              // managed thread id of the holder, 0 when free
    private int _depth;

    /// <summary>Whether the calling thread holds the lock.</summary>
    public bool IsHeldByCurrentThread => Volatile.Read(ref _owner) == Environment.CurrentManagedThreadId;

    /// <summary>Enters, and returns the scope whose disposal leaves.</summary>
    public Scope EnterScope()
    {
        int me = Environment.CurrentManagedThreadId;

        // Only the holder ever stores its own id, so seeing it means this thread holds the lock.
        if (Volatile.Read(ref _owner) == me)
        {
            _depth++;
        }
        else
        {
            if (Interlocked.CompareExchange(ref _owner, me, 0) != 0)
            {
                Wait(me);
            }

            _depth = 1;
        }

        return new Scope(this);
    }

    private void Exit()
    {
        if (--_depth == 0)
        {
            Volatile.Write(ref _owner, 0);
        }
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
    public readonly ref struct Scope(ContextLock owner)
    {
        public void Dispose() => owner.Exit();
    }
}
