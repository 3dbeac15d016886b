using Abi.Engine.Iommufd;

namespace Abi.Engine.Tests;

/// <summary>
/// The handler lock's bound on waiting (the rw_semaphore's handoff): a waiter that has waited long
/// enough takes the lock before anyone who comes later, and the holder's own re-entry never waits.
/// </summary>
public sealed class HandlerLockTests
{
    private static readonly TimeSpan s_patience = TimeSpan.FromSeconds(20);

    [Fact]
    public void AWaiterPastItsHandoffTime_TakesTheFreeLockBeforeTheThreadThatFreedIt()
    {
        // The barging the handoff stops: a thread that leaves and enters again at once would otherwise
        // win every time against a waiter that is asleep between its looks at the lock.
        var gate = new HandlerLock(handoffAfterMilliseconds: 0);      // every waiter claims the next turn at once
        var order = new System.Collections.Concurrent.ConcurrentQueue<string>();
        const int Holder = 1001, First = 1002;

        Assert.True(gate.Enter(Holder));
        var first = new Thread(() =>
        {
            gate.Enter(First);
            order.Enqueue("waiter");
            gate.Exit();
        });
        first.Start();
        Assert.True(SpinWait.SpinUntil(() => gate.HandoffWaiter == First, s_patience), "the waiter never claimed the next turn");
        Thread.Sleep(30);                           // long enough for its wait to sleep between looks

        gate.Exit();
        Assert.True(gate.Enter(Holder));            // at once: without the claim, this thread takes the lock again
        order.Enqueue("holder");
        gate.Exit();
        Assert.True(first.Join(s_patience));
        Assert.Equal(["waiter", "holder"], order.ToArray());
        Assert.Equal(0, gate.HandoffWaiter);      // the claim ends with the turn it claimed
    }

    [Fact]
    public void TheHolder_ReentersWhileAWaiterHasClaimedTheNextTurn()
    {
        var gate = new HandlerLock(handoffAfterMilliseconds: 0);
        const int Holder = 2001, Waiter = 2002;
        Assert.True(gate.Enter(Holder));
        var waiter = new Thread(() =>
        {
            gate.Enter(Waiter);
            gate.Exit();
        });
        waiter.Start();
        Assert.True(SpinWait.SpinUntil(() => gate.HandoffWaiter == Waiter, s_patience));

        Assert.False(gate.Enter(Holder));           // nested: no wait, not the outermost
        Assert.False(gate.IsOutermost);
        gate.Exit();
        Assert.True(gate.IsOutermost);
        gate.Exit();
        Assert.True(waiter.Join(s_patience));
        Assert.Equal(0, gate.HandoffWaiter);
    }

    [Fact]
    public void ManyThreads_EachGetTheLock_AndNoneIsInsideWithAnother()
    {
        // Counted without atomics inside the lock: a lost update would show a lock that let two in.
        var gate = new HandlerLock(handoffAfterMilliseconds: 1);
        const int Threads = 4, Rounds = 20_000;
        long inside = 0, total = 0;
        int overlaps = 0;
        var threads = new Thread[Threads];
        for (int t = 0; t < Threads; t++)
        {
            int me = 3001 + t;
            threads[t] = new Thread(() =>
            {
                for (int i = 0; i < Rounds; i++)
                {
                    gate.Enter(me);
                    if (++inside != 1)
                    {
                        Interlocked.Increment(ref overlaps);
                    }

                    total++;
                    inside--;
                    gate.Exit();
                }
            });
        }

        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            Assert.True(thread.Join(TimeSpan.FromMinutes(2)));
        }

        Assert.Equal(0, overlaps);
        Assert.Equal((long)Threads * Rounds, total);
        Assert.Equal(0, gate.HandoffWaiter);
    }
}
