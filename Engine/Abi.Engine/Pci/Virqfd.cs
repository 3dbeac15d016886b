using Abi.Engine.Native;
using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Pci;

/// <summary>
/// An eventfd whose signals make the engine act (drivers/vfio/virqfd.c): vfio-pci's INTx unmask
/// eventfd and its ioeventfds. A signal consumes the eventfd's count and runs the handler once.
/// The kernel runs it from the eventfd's wakeup, inside the signaller's write; the engine runs it on
/// <see cref="VirqfdWatcher"/>'s thread for writes it does not make, and at once, on the signalling
/// thread and in place of the write, for the signals it makes itself (<see cref="VirqfdWatcher.TakeEngineSignal"/>:
/// an INTx loopback whose trigger is also its unmask eventfd), so that those are done when the ioctl
/// returns and the watcher, which never sees them, cannot take them first.
/// <para>
/// The handler runs under the virqfd's lock, so <see cref="Disable"/> means no handler after it. A
/// handler may reach other locks (an ioeventfd's write may make edu raise an interrupt, which takes
/// the interrupt controller's lock), so a signaller that holds such a lock only tries the virqfd's
/// lock, and a signal made from inside a handler is left to the watcher (the kernel drops an eventfd
/// signal nested in a wakeup, eventfd_signal_mask). An engine signal that finds the virqfd busy while
/// another virqfd on the eventfd took it is owed (<see cref="Owe"/>): it runs on whichever thread next
/// leaves or finds the lock free, which may be the engine's signalling thread inside the interrupt
/// controller's lock, or an ioctl thread arming a virqfd.
/// </para>
/// <para>
/// Creation and arming are two steps, as vfio_virqfd_enable ties its handler to its object before it
/// polls: the owner stores the virqfd (or refuses it, EBUSY) between them, so no signal finds a
/// virqfd its owner does not know yet.
/// </para>
/// </summary>
internal sealed class Virqfd
{
    [ThreadStatic]
    private static bool s_inHandler;

    private readonly Lock _lock = new();
    private readonly Action<Virqfd> _handler;
    private bool _armed;
    private bool _disabled;
    private bool _reportedAtRegistration;
    private int _owed;                       // engine signals that found the handler busy (see Owe)

    private Virqfd(int fd, long eventfdId, Action<Virqfd> handler)
    {
        Fd = fd;
        EventfdId = eventfdId;
        _handler = handler;
    }

    /// <summary>Whether this thread is running a virqfd's handler (its own eventfd signals are then the watcher's).</summary>
    public static bool InHandler => s_inHandler;

    /// <summary>The engine's own reference to the eventfd.</summary>
    public int Fd { get; }

    /// <summary>Its key in <see cref="VirqfdWatcher"/>'s epoll set, given when it is added.</summary>
    public ulong Token { get; set; }

    /// <summary>The eventfd's identity (<c>eventfd-id</c> of fdinfo), the same through every fd of it.</summary>
    public long EventfdId { get; }

    /// <summary>
    /// vfio_virqfd_enable's first half: EBADF for a closed fd, EINVAL for one that is not an eventfd;
    /// else a reference of the engine's own, not watched until <see cref="Arm"/>.
    /// </summary>
    public static int? Create(int fd, Action<Virqfd> handler, out Virqfd? virqfd)
    {
        virqfd = null;
        if (InterruptController.AcquireEventfd(fd, out int own) is int failed)
        {
            return failed;
        }

        virqfd = new Virqfd(own, VirqfdWatcher.EventfdIdOf(own), handler);
        return null;
    }

    /// <summary>
    /// The second half: watched from now on; an eventfd signalled already runs the handler now and
    /// leaves its count to the next signal's read (vfs_poll found EPOLLIN). ENOMEM if it cannot be watched.
    /// </summary>
    public int Arm()
    {
        try
        {
            return ArmLocked();
        }
        finally
        {
            Settle();
        }
    }

    private int ArmLocked()
    {
        lock (_lock)
        {
            bool signalled = IsSignalled(Fd);
            _reportedAtRegistration = signalled;    // epoll reports a ready fd once when it is added
            if (!VirqfdWatcher.Add(this))
            {
                return Fail(Errno.ENOMEM, "the eventfd cannot be watched");
            }

            _armed = true;
            if (signalled)
            {
                RunHandler();
            }
        }

        return 0;
    }

    /// <summary>vfio_virqfd_disable: no handler runs after this returns; the reference goes.</summary>
    public void Disable()
    {
        bool armed;
        lock (_lock)
        {
            if (_disabled)
            {
                return;
            }

            _disabled = true;
            armed = _armed;
        }

        if (armed)
        {
            VirqfdWatcher.Remove(this);
        }

        _ = LinuxKernel.Instance.Close(Fd);
    }

    /// <summary>
    /// A signal the watcher saw (virqfd_wakeup): the count is read and the handler runs, unless another
    /// reader took the count first or this is epoll's report of a count the registration already answered.
    /// True when it took the count: the other virqfds on the eventfd then act too (<see cref="WakeWithSibling"/>).
    /// </summary>
    internal bool Fire()
    {
        try
        {
            lock (_lock)
            {
                if (_disabled || !_armed)
                {
                    return false;
                }

                if (_reportedAtRegistration)
                {
                    _reportedAtRegistration = false;
                    return false;
                }

                if (!TryConsume(Fd))
                {
                    return false;
                }

                RunHandler();
                return true;
            }
        }
        finally
        {
            Settle();
        }
    }

    /// <summary>
    /// Another virqfd on this eventfd took a signal's count (<see cref="Fire"/>): this one's handler runs
    /// for the same signal, as every waiter's virqfd_wakeup runs inside the one eventfd_signal. Its own
    /// report of the signal then finds the count taken and does nothing.
    /// </summary>
    internal void WakeWithSibling()
    {
        try
        {
            lock (_lock)
            {
                if (_reportedAtRegistration)
                {
                    // The count the sibling took is the one this virqfd answered when it was armed.
                    _reportedAtRegistration = false;
                }
                else if (!_disabled && _armed)
                {
                    RunHandler();
                }
            }
        }
        finally
        {
            Settle();
        }
    }

    /// <summary>
    /// A signal the engine is about to make (virqfd_wakeup inside eventfd_signal): the handler runs now
    /// and takes the count, any count pending with it, so the engine writes nothing and the eventfd ends
    /// at 0 as the kernel's does. Only tries the lock (see the class remarks): <see cref="Take.Busy"/>
    /// when another thread holds it (the watcher, running the handler for a write the engine did not
    /// make), <see cref="Take.Refused"/> when the virqfd is disabled or not armed yet.
    /// </summary>
    internal Take TakeEngineSignal()
    {
        if (!_lock.TryEnter())
        {
            return Take.Busy;
        }

        try
        {
            if (_disabled || !_armed)
            {
                return Take.Refused;
            }

            _reportedAtRegistration = false;
            _ = TryConsume(Fd);
            RunHandler();
        }
        finally
        {
            _lock.Exit();
            Settle();
        }

        return Take.Taken;
    }

    /// <summary>
    /// An engine signal found the handler busy while another virqfd on the eventfd took it (so nothing is
    /// written for this one to see): the handler runs for it once the lock is free, on whichever thread
    /// frees it or finds it free, so the signal is not lost.
    /// </summary>
    internal void Owe()
    {
        Interlocked.Increment(ref _owed);
        Settle();
    }

    /// <summary>Runs the handler for the signals owed, when the lock can be had; whoever leaves the lock settles again, so none is left behind.</summary>
    private void Settle()
    {
        while (Volatile.Read(ref _owed) != 0 && _lock.TryEnter())
        {
            try
            {
                for (int owed = Interlocked.Exchange(ref _owed, 0); owed > 0 && !_disabled && _armed; owed--)
                {
                    // The virqfd that took the signal read the count: epoll has nothing left to report.
                    _reportedAtRegistration = false;
                    RunHandler();
                }
            }
            finally
            {
                _lock.Exit();
            }
        }
    }

    private void RunHandler()
    {
        bool outer = s_inHandler;
        s_inHandler = true;
        try
        {
            _handler(this);
        }
        catch (Exception e)
        {
            // A device model that throws in a handler (an ioeventfd's write, an unmask) must not reach
            // whoever delivered the signal: the watcher's thread, the engine's interrupt path, an ioctl
            // arming the virqfd, a thread settling what was owed. The handler had the count; its work is
            // lost, as a failed MMIO write's would be, and said.
            Console.Error.WriteLine($"abi-engine: an eventfd's handler failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            s_inHandler = outer;
        }
    }

    /// <summary>eventfd_ctx_do_read: the count, without blocking on a blocking eventfd whose count another reader took.</summary>
    private static unsafe bool TryConsume(int fd)
    {
        ulong count;
        var iov = new Libc.Iovec { Base = &count, Length = sizeof(ulong) };
        return Libc.Preadv2(fd, &iov, 1, -1, Libc.RwfNowait) == sizeof(ulong);
    }

    private static unsafe bool IsSignalled(int fd)
    {
        var poll = new Libc.PollFd { Fd = fd, Events = Libc.PollIn };
        return Libc.Poll(&poll, 1, 0) == 1 && (poll.Revents & Libc.PollIn) != 0;
    }

    /// <summary>What a virqfd did with a signal the engine is about to make.</summary>
    internal enum Take
    {
        /// <summary>Its handler ran and took the count.</summary>
        Taken,

        /// <summary>Its handler is running on another thread.</summary>
        Busy,

        /// <summary>Disabled, or not armed yet: it takes no signal.</summary>
        Refused,
    }
}
