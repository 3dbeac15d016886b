using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Process;

/// <summary>
/// The engine's file descriptors. Each one is a real descriptor number, reserved by opening
/// <c>/dev/null</c>, so an engine fd can never collide with a real one: the real kernel will not
/// hand that number out while the engine holds it, and closing it gives the number back.
/// </summary>
/// <remarks>
/// Lookups take no lock, as <c>fdget</c> reads the kernel's fd array under RCU (fs/file.c): the
/// slots are an array indexed by descriptor number, replaced by a larger copy when a number does not
/// fit, and read with acquire semantics. Every ioctl, read and write looks its file up here, so a
/// lock would serialise all of them across threads. Adding and removing take the lock.
/// </remarks>
internal sealed class FdTable
{
    private EngineFile?[] _slots = new EngineFile?[64];
    private int _count;
    private readonly Lock _lock = new();

    /// <summary>Told (fd, open) whenever an engine fd appears or goes, so an interposer knows which fds to route here.</summary>
    public Action<int, bool>? Changed { get; set; }

    /// <summary>The open flags a file keeps in f_flags besides its access mode, which the reserved number carries.</summary>
    public const int StatusFlags = LinuxConstants.O_NONBLOCK | LinuxConstants.O_APPEND;

    /// <summary>
    /// Gives <paramref name="file"/> a descriptor: <c>/dev/null</c> opened with the file's access mode,
    /// <paramref name="statusFlags"/> and close-on-exec as asked, so that fcntl (F_GETFL, F_GETFD,
    /// F_SETFL), which the engine does not serve, answers for the number as for the kernel's file.
    /// </summary>
    public int Add(EngineFile file, bool closeOnExec = true, int statusFlags = 0)
    {
        int fd = LinuxKernel.Instance.Open("/dev/null\0"u8, file.AccessMode | statusFlags | (closeOnExec ? LinuxConstants.O_CLOEXEC : 0), 0);
        if (fd < 0)
        {
            return fd;
        }

        lock (_lock)
        {
            EngineFile?[] slots = _slots;
            if (fd >= slots.Length)
            {
                // A reader still on the old array sees the fds it held; the new one is published whole.
                var larger = new EngineFile?[Math.Max(slots.Length * 2, fd + 1)];
                slots.CopyTo(larger, 0);
                Volatile.Write(ref _slots, larger);
                slots = larger;
            }

            Volatile.Write(ref slots[fd], file);
            _count++;
        }

        Changed?.Invoke(fd, true);
        return fd;
    }

    /// <summary>
    /// dup, dup2, dup3 or fcntl(F_DUPFD) made <paramref name="copy"/> from <paramref name="fd"/> (the
    /// real call on the reserved numbers chose the number and its close-on-exec flag): the copy names
    /// the same file, a reference of its own (get_file). An engine file the copy replaced loses its
    /// reference (do_dup2's fput); a real fd copied over an engine one leaves the number to the kernel.
    /// </summary>
    public void Duplicated(int fd, int copy)
    {
        if (fd == copy || copy < 0)
        {
            return;
        }

        EngineFile? replaced;
        EngineFile? file;
        lock (_lock)
        {
            EngineFile?[] slots = _slots;
            file = (uint)fd < (uint)slots.Length ? slots[fd] : null;
            if (copy >= slots.Length)
            {
                if (file is null)
                {
                    return;
                }

                var larger = new EngineFile?[Math.Max(slots.Length * 2, copy + 1)];
                slots.CopyTo(larger, 0);
                Volatile.Write(ref _slots, larger);
                slots = larger;
            }

            replaced = slots[copy];
            file?.Get();
            Volatile.Write(ref slots[copy], file);
            _count += (file is null ? 0 : 1) - (replaced is null ? 0 : 1);
        }

        if ((file is null) != (replaced is null))
        {
            Changed?.Invoke(copy, file is not null);
        }

        replaced?.Put();
    }

    public EngineFile? Get(int fd)
    {
        EngineFile?[] slots = Volatile.Read(ref _slots);
        return (uint)fd < (uint)slots.Length ? Volatile.Read(ref slots[fd]) : null;
    }

    /// <summary>Whether <paramref name="fd"/> is an engine fd.</summary>
    public bool Contains(int fd) => Get(fd) is not null;

    public int Remove(int fd)
    {
        EngineFile? file;
        lock (_lock)
        {
            EngineFile?[] slots = _slots;
            if ((uint)fd >= (uint)slots.Length || slots[fd] is null)
            {
                return -(int)Errno.EBADF;
            }

            file = slots[fd]!;
            Volatile.Write(ref slots[fd], null);
            _count--;
        }

        // The number stops being the engine's before it is closed, so it cannot be handed out again while still marked.
        Changed?.Invoke(fd, false);
        file.Put();
        return LinuxKernel.Instance.Close(fd);
    }

    /// <summary>The open engine files (a snapshot), each once however many descriptors name it (dup).</summary>
    public List<EngineFile> Files()
    {
        lock (_lock)
        {
            var files = new List<EngineFile>(_count);
            var seen = new HashSet<EngineFile>(ReferenceEqualityComparer.Instance);
            foreach (EngineFile? file in _slots)
            {
                if (file is not null && seen.Add(file))
                {
                    files.Add(file);
                }
            }

            return files;
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }
}
