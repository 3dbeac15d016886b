using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Process;

/// <summary>
/// The engine's file descriptors. Each one is a real descriptor number, reserved by opening
/// <c>/dev/null</c>, so an engine fd can never collide with a real one: the real kernel will not
/// hand that number out while the engine holds it, and closing it gives the number back.
/// </summary>
internal sealed class FdTable
{
    private readonly Dictionary<int, EngineFile> _files = [];
    private readonly Lock _lock = new();

    /// <summary>Told (fd, open) whenever an engine fd appears or goes, so an interposer knows which fds to route here.</summary>
    public Action<int, bool>? Changed { get; set; }

    public int Add(EngineFile file)
    {
        int fd = LinuxKernel.Instance.Open("/dev/null\0"u8, LinuxConstants.O_RDONLY | LinuxConstants.O_CLOEXEC, 0);
        if (fd < 0)
        {
            return fd;
        }

        lock (_lock)
        {
            _files.Add(fd, file);
        }

        Changed?.Invoke(fd, true);
        return fd;
    }

    public EngineFile? Get(int fd)
    {
        lock (_lock)
        {
            return _files.GetValueOrDefault(fd);
        }
    }

    /// <summary>Whether <paramref name="fd"/> is an engine fd.</summary>
    public bool Contains(int fd)
    {
        lock (_lock)
        {
            return _files.ContainsKey(fd);
        }
    }

    public int Remove(int fd)
    {
        EngineFile? file;
        lock (_lock)
        {
            if (!_files.Remove(fd, out file))
            {
                return -(int)Errno.EBADF;
            }
        }

        // The number stops being the engine's before it is closed, so it cannot be handed out again while still marked.
        Changed?.Invoke(fd, false);
        file.Put();
        return LinuxKernel.Instance.Close(fd);
    }

    /// <summary>The open engine files (a snapshot).</summary>
    public List<EngineFile> Files()
    {
        lock (_lock)
        {
            return [.. _files.Values];
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _files.Count;
            }
        }
    }
}
