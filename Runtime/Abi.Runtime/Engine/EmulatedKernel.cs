using System.Text;
using Abi.Interop;
using Abi.Runtime.Engine.Iommufd;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Engine;

/// <summary>
/// The in-process engine: serves <c>/dev/iommu</c> (and, as it grows, the VFIO nodes of emulated
/// devices) ioctl by ioctl, errno by errno, as the kernel does. Engine files get real descriptor
/// numbers (reserved from <c>/dev/null</c>), so they never collide with real ones; every other fd
/// and call goes to the real kernel untouched. Memory the engine maps with <see cref="Mmap"/> is
/// recorded as user memory it may pin; other addresses it never dereferences.
/// </summary>
public sealed class EmulatedKernel : IKernel
{
    private readonly FdTable _files = new();

    /// <summary>The process-wide engine that <see cref="Backend"/> hands out as <c>engine</c>.</summary>
    public static EmulatedKernel Shared { get; } = new();

    /// <inheritdoc/>
    public string Name => "engine";

    /// <inheritdoc/>
    public string? LastErrorReason => EngineDiagnostics.LastReason;

    /// <summary>How many engine files are open (for leak checks).</summary>
    public int OpenFiles => _files.Count;

    internal UserMemory Memory { get; } = new();

    /// <summary>The engine's failure points, for fail-nth sweeps.</summary>
    public FaultInjection Faults { get; } = new();

    /// <summary>Declares memory the caller allocated itself as usable for DMA mappings.</summary>
    public void RegisterUserMemory(nint address, ulong length) => Memory.Add((ulong)address, length);

    /// <inheritdoc/>
    public int Open(ReadOnlySpan<byte> path, int flags, int mode)
    {
        if (path.IsEmpty || path[^1] != 0)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, "the path is not NUL-terminated");
        }

        string name = Encoding.UTF8.GetString(path[..^1]);
        return name switch
        {
            "/dev/iommu" => _files.Add(new IommufdFile(this, name)),
            _ when name.StartsWith("/dev/vfio", StringComparison.Ordinal) => EngineDiagnostics.Fail(Errno.ENOENT, $"{name}: the engine has no such node (no emulated device registered)"),
            _ => LinuxKernel.Instance.Open(path, flags, mode),
        };
    }

    /// <inheritdoc/>
    public int Close(int fd) => _files.Contains(fd) ? _files.Remove(fd) : LinuxKernel.Instance.Close(fd);

    /// <inheritdoc/>
    public int Ioctl(int fd, uint request, nint argument) =>
        _files.Get(fd) is EngineFile file ? file.Ioctl(request, argument) : LinuxKernel.Instance.Ioctl(fd, request, argument);

    /// <inheritdoc/>
    public nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset)
    {
        if (fd >= 0 && _files.Contains(fd))
        {
            return EngineDiagnostics.Fail(Errno.ENODEV, "this engine file cannot be mapped");
        }

        nint result = LinuxKernel.Instance.Mmap(address, length, protection, flags, fd, offset);
        if (result > 0 && (flags & LinuxConstants.MAP_ANONYMOUS) != 0)
        {
            Memory.Add((ulong)result, length);
        }

        return result;
    }

    /// <inheritdoc/>
    public int Munmap(nint address, nuint length)
    {
        Memory.Remove((ulong)address);
        return LinuxKernel.Instance.Munmap(address, length);
    }

    /// <inheritdoc/>
    public long Pread(int fd, Span<byte> buffer, long offset) =>
        _files.Get(fd) is EngineFile file ? file.Pread(buffer, offset) : LinuxKernel.Instance.Pread(fd, buffer, offset);

    /// <inheritdoc/>
    public long Pwrite(int fd, ReadOnlySpan<byte> buffer, long offset) =>
        _files.Get(fd) is EngineFile file ? file.Pwrite(buffer, offset) : LinuxKernel.Instance.Pwrite(fd, buffer, offset);

    /// <inheritdoc/>
    public long Read(int fd, Span<byte> buffer) =>
        _files.Get(fd) is EngineFile file ? file.Read(buffer) : LinuxKernel.Instance.Read(fd, buffer);

    /// <inheritdoc/>
    public long Write(int fd, ReadOnlySpan<byte> buffer) =>
        _files.Get(fd) is EngineFile file ? file.Write(buffer) : LinuxKernel.Instance.Write(fd, buffer);

    /// <inheritdoc/>
    public int EventFd(uint initialValue, int flags) => LinuxKernel.Instance.EventFd(initialValue, flags);

    /// <inheritdoc/>
    public int Poll(Span<PollFd> fds, int timeoutMilliseconds)
    {
        int ready = 0;
        bool anyEngine = false;
        foreach (ref PollFd fd in fds)
        {
            if (_files.Get(fd.Fd) is EngineFile file)
            {
                anyEngine = true;
                fd.ReturnedEvents = file.Poll(fd.Events);
                ready += fd.ReturnedEvents != 0 ? 1 : 0;
            }
        }

        if (!anyEngine)
        {
            return LinuxKernel.Instance.Poll(fds, timeoutMilliseconds);
        }

        // Engine files change state only through calls on this process's threads; real fds are polled without waiting.
        return ready;
    }

    /// <summary>Gives an engine file a descriptor (fault and event queues, device fds).</summary>
    internal int AddFile(EngineFile file) => _files.Add(file);

    /// <summary>The engine file behind <paramref name="fd"/>, for tests that inspect the engine's state.</summary>
    internal EngineFile? FileOf(int fd) => _files.Get(fd);

    /// <summary>Whether <paramref name="fd"/> is open (an engine file or a real descriptor).</summary>
    internal bool IsOpenFile(int fd) => fd >= 0 && (_files.Contains(fd) || LinuxKernel.Instance.Pread(fd, [], 0) != -(long)Errno.EBADF);
}
