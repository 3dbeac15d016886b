using Abi.Engine.Native;
using Abi.Interop;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Pci;

/// <summary>
/// An eventfd whose signals make the engine act (drivers/vfio/virqfd.c): vfio-pci's INTx unmask
/// eventfd and its ioeventfds. Each signal consumes the eventfd's count and runs the handler once.
/// The kernel runs it from the eventfd's wakeup, inside the signaller's write; the engine runs it on
/// <see cref="VirqfdWatcher"/>'s thread for writes it does not make, and at once, on the signalling
/// thread, for the signals it makes itself (<see cref="VirqfdWatcher.SignalledByEngine"/>: an INTx
/// loopback whose trigger is also its unmask eventfd), so that those are done when the ioctl returns.
/// The handler runs under the virqfd's lock, so a signaller waiting for that lock finds the work done,
/// and <see cref="Disable"/> means no handler after it; a handler therefore takes no lock its owner may
/// hold while it disables or signals (it reads a published snapshot, or writes one volatile field).
/// </summary>
internal sealed class Virqfd
{
    private readonly Lock _lock = new();
    private readonly Action<Virqfd> _handler;
    private bool _disabled;
    private bool _reportedAtRegistration;

    private Virqfd(int fd, long eventfdId, Action<Virqfd> handler)
    {
        Fd = fd;
        EventfdId = eventfdId;
        _handler = handler;
    }

    /// <summary>The engine's own reference to the eventfd.</summary>
    public int Fd { get; }

    /// <summary>The eventfd's identity (<c>eventfd-id</c> of fdinfo), the same through every fd of it.</summary>
    public long EventfdId { get; }

    /// <summary>
    /// vfio_virqfd_enable: EBADF for a closed fd, EINVAL for one that is not an eventfd. An eventfd
    /// already signalled (<paramref name="signalled"/>) is for the caller to act on at once, once it
    /// holds the virqfd; its count is left to the next signal's read.
    /// </summary>
    public static int? Enable(int fd, Action<Virqfd> handler, out Virqfd? virqfd, out bool signalled)
    {
        virqfd = null;
        signalled = false;
        if (InterruptController.AcquireEventfd(fd, out int own) is int failed)
        {
            return failed;
        }

        long id = VirqfdWatcher.EventfdIdOf(own);
        var created = new Virqfd(own, id, handler);
        signalled = IsSignalled(own);
        created._reportedAtRegistration = signalled;   // epoll reports a ready fd once when it is added
        if (!VirqfdWatcher.Add(created))
        {
            _ = LinuxKernel.Instance.Close(own);
            return Fail(Errno.ENOMEM, "the eventfd cannot be watched");
        }

        virqfd = created;
        return null;
    }

    /// <summary>vfio_virqfd_disable: no handler runs after this returns; the reference goes.</summary>
    public void Disable()
    {
        lock (_lock)
        {
            if (_disabled)
            {
                return;
            }

            _disabled = true;
        }

        VirqfdWatcher.Remove(this);
        _ = LinuxKernel.Instance.Close(Fd);
    }

    /// <summary>
    /// A signal (virqfd_wakeup): the count is read and the handler runs, unless another thread took the
    /// count first or this is epoll's report of a count the registration already answered.
    /// </summary>
    internal void Fire(bool fromWatcher)
    {
        lock (_lock)
        {
            if (_disabled)
            {
                return;
            }

            if (fromWatcher && _reportedAtRegistration)
            {
                _reportedAtRegistration = false;
                return;
            }

            _reportedAtRegistration = false;
            Span<byte> count = stackalloc byte[8];
            if (!IsSignalled(Fd) || LinuxKernel.Instance.Read(Fd, count) != 8)
            {
                return;
            }

            _handler(this);
        }
    }

    private static unsafe bool IsSignalled(int fd)
    {
        var poll = new Libc.PollFd { Fd = fd, Events = Libc.PollIn };
        return Libc.Poll(&poll, 1, 0) == 1 && (poll.Revents & Libc.PollIn) != 0;
    }
}
