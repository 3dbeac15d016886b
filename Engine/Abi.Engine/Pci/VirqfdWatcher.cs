using System.Globalization;
using Abi.Engine.Native;

namespace Abi.Engine.Pci;

/// <summary>
/// The process's watcher of <see cref="Virqfd"/>s: one edge-triggered epoll set and one background
/// thread, started with the first eventfd, that runs a virqfd's handler whenever its eventfd is written.
/// Eventfds belong to the process, not to one emulated kernel, so there is one watcher.
/// </summary>
internal static class VirqfdWatcher
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<ulong, Virqfd> s_watched = [];
    private static int s_epoll = -1;
    private static readonly Dictionary<int, long> s_signalledIds = [];   // the engine's trigger fds → eventfd-id
    private static ulong s_nextToken;
    private static volatile int s_count;

    /// <summary>Whether any virqfd is watched (the engine's own signals look for one only then).</summary>
    public static bool Any => s_count != 0;

    public static unsafe bool Add(Virqfd virqfd)
    {
        lock (s_lock)
        {
            if (s_epoll < 0)
            {
                int epoll = Libc.EpollCreate1(Libc.EpollCloexec);
                if (epoll < 0)
                {
                    return false;
                }

                s_epoll = Libc.MoveOwn(epoll);
                new Thread(Watch) { IsBackground = true, Name = "abi-virqfd" }.Start();
            }

            ulong token = ++s_nextToken;
            var ev = new Libc.EpollEvent { Events = Libc.EpollIn | Libc.EpollEt, Data = token };
            if (Libc.EpollCtl(s_epoll, Libc.EpollCtlAdd, virqfd.Fd, &ev) != 0)
            {
                return false;
            }

            s_watched[token] = virqfd;
            virqfd.Token = token;
            s_count = s_watched.Count;
            return true;
        }
    }

    public static unsafe void Remove(Virqfd virqfd)
    {
        lock (s_lock)
        {
            s_watched.Remove(virqfd.Token);
            s_count = s_watched.Count;
            _ = Libc.EpollCtl(s_epoll, Libc.EpollCtlDel, virqfd.Fd, null);
        }
    }

    /// <summary>
    /// The engine is about to signal the eventfd behind <paramref name="fd"/>: every virqfd on the same
    /// eventfd acts now, as the kernel's wakeups would inside the write, and takes the count. True when
    /// one did: the engine then writes nothing. When none could (each busy with its handler on the
    /// watcher, disabled, or not armed), the engine writes and the watcher delivers it. A busy virqfd
    /// beside one that acted is owed the signal (<see cref="Virqfd.Owe"/>: a write would make the other act twice).
    /// </summary>
    public static bool TakeEngineSignal(int fd)
    {
        if (!Any || Virqfd.InHandler)
        {
            return false;
        }

        List<Virqfd>? matching;
        lock (s_lock)
        {
            // fdinfo is read once per trigger fd, not per interrupt; Forget drops it when the fd closes.
            if (!s_signalledIds.TryGetValue(fd, out long id))
            {
                s_signalledIds[fd] = id = EventfdIdOf(fd);
            }

            matching = OnLocked(id, except: null);
        }

        if (matching is null)
        {
            return false;
        }

        bool taken = false;
        List<Virqfd>? busy = null;
        foreach (Virqfd virqfd in matching)
        {
            switch (virqfd.TakeEngineSignal())
            {
                case Virqfd.Take.Taken:
                    taken = true;
                    break;
                case Virqfd.Take.Busy:
                    (busy ??= []).Add(virqfd);
                    break;
            }
        }

        // Nothing is written when one took it, so the busy ones are owed it; when none took it, the
        // write goes out and the watcher wakes every virqfd on the eventfd.
        if (taken && busy is not null)
        {
            foreach (Virqfd virqfd in busy)
            {
                virqfd.Owe();
            }
        }

        return taken;
    }

    /// <summary>The engine closes its trigger fd <paramref name="fd"/>: its number may come back for another eventfd.</summary>
    public static void Forget(int fd)
    {
        lock (s_lock)
        {
            s_signalledIds.Remove(fd);
        }
    }

    /// <summary>The eventfd's <c>eventfd-id</c> from <c>/proc/self/fdinfo</c>, or -1 (an eventfd without one: identity unknown).</summary>
    public static long EventfdIdOf(int fd)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/self/fdinfo/{fd}"))
            {
                if (line.StartsWith("eventfd-id:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan("eventfd-id:".Length).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return -1;
    }

    /// <summary>
    /// A write the engine did not make reached <paramref name="taker"/>, which took its count: every other
    /// virqfd on the same eventfd acts on it too (the kernel wakes each waiter inside the write).
    /// </summary>
    private static void WakeSiblings(Virqfd taker)
    {
        List<Virqfd>? siblings;
        lock (s_lock)
        {
            siblings = OnLocked(taker.EventfdId, except: taker);
        }

        if (siblings is not null)
        {
            foreach (Virqfd sibling in siblings)
            {
                sibling.WakeWithSibling();
            }
        }
    }

    /// <summary>
    /// The watched virqfds on the eventfd of identity <paramref name="eventfdId"/> but <paramref name="except"/>
    /// (null when none), under s_lock. An unknown identity (-1) matches nothing: a virqfd must not act on
    /// another eventfd's signal.
    /// </summary>
    private static List<Virqfd>? OnLocked(long eventfdId, Virqfd? except)
    {
        List<Virqfd>? found = null;
        if (eventfdId >= 0)
        {
            foreach (Virqfd virqfd in s_watched.Values)
            {
                if (virqfd != except && virqfd.EventfdId == eventfdId)
                {
                    (found ??= []).Add(virqfd);
                }
            }
        }

        return found;
    }

    private static unsafe void Watch()
    {
        const int Batch = 16;
        Libc.EpollEvent* events = stackalloc Libc.EpollEvent[Batch];
        while (true)
        {
            int ready = Libc.EpollWait(s_epoll, events, Batch, -1);
            for (int i = 0; i < ready; i++)
            {
                Virqfd? virqfd;
                lock (s_lock)
                {
                    s_watched.TryGetValue(events[i].Data, out virqfd);
                }

                try
                {
                    if (virqfd is not null && virqfd.Fire())
                    {
                        WakeSiblings(virqfd);
                    }
                }
                catch (Exception e)
                {
                    // Handlers' failures are reported where they run (Virqfd.RunHandler); anything else
                    // thrown here must not take the process down with this thread either.
                    Console.Error.WriteLine($"abi-engine: the eventfd watcher met {e.GetType().Name}: {e.Message}");
                }
            }
        }
    }
}
