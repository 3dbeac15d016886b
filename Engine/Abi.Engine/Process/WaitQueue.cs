namespace Abi.Engine.Process;

/// <summary>
/// A wait_queue_head_t for poll: a file whose readiness changes from elsewhere (an event queue a
/// device or the mock reports into) wakes the poll calls waiting on it, which then ask every file
/// again, as do_poll's loop does after poll_schedule_timeout.
/// </summary>
internal sealed class WaitQueue
{
    private readonly Lock _lock = new();
    private readonly List<PollWaiter> _waiters = [];

    /// <summary>poll_wait: <paramref name="waiter"/> is woken by every <see cref="WakeUp"/> until removed.</summary>
    public void Add(PollWaiter waiter)
    {
        lock (_lock)
        {
            _waiters.Add(waiter);
        }
    }

    /// <summary>poll_freewait's removal.</summary>
    public void Remove(PollWaiter waiter)
    {
        lock (_lock)
        {
            _waiters.Remove(waiter);
        }
    }

    /// <summary>wake_up_interruptible: called after the change, outside the file's own lock.</summary>
    public void WakeUp()
    {
        lock (_lock)
        {
            foreach (PollWaiter waiter in _waiters)
            {
                waiter.Wake();
            }
        }
    }
}
