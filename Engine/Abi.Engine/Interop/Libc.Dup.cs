using System.Runtime.InteropServices;

namespace Abi.Engine.Native;

internal static partial class Libc
{
    /// <summary>
    /// Where the engine's own fds live (eventfd references, BAR and mmap memfds): the kernel takes
    /// none of the program's fd numbers, so the engine keeps its own above the ones a program meets,
    /// as the interposer keeps the runtime's there while the engine starts.
    /// </summary>
    internal const int OwnFdFloor = 256;

    private const int FDupFdCloexec = 1030;
    private const int FGetFl = 3;

    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    private const int FDupFd = 0;

    /// <summary>fcntl(F_DUPFD or F_DUPFD_CLOEXEC): the lowest free number from 0, or -1 with errno.</summary>
    internal static int Dup(int fd, bool closeOnExec) => Fcntl(fd, closeOnExec ? FDupFdCloexec : FDupFd, 0);

    /// <summary>
    /// A reference of the engine's own to <paramref name="fd"/>, at <see cref="OwnFdFloor"/> or above
    /// (close-on-exec); below it only when RLIMIT_NOFILE leaves no number up there.
    /// </summary>
    internal static int DupOwn(int fd)
    {
        int own = Fcntl(fd, FDupFdCloexec, OwnFdFloor);
        return own >= 0 ? own : Fcntl(fd, FDupFdCloexec, 0);
    }

    /// <summary>
    /// Whether <paramref name="fd"/> is a descriptor fget would take: open, whatever its access mode,
    /// but not O_PATH (fcntl works on those, fget and fdget refuse them: EBADF).
    /// </summary>
    internal static bool IsOpen(int fd)
    {
        int flags = Fcntl(fd, FGetFl, 0);
        return flags >= 0 && (flags & Abi.Runtime.Kernel.LinuxConstants.O_PATH) == 0;
    }

    /// <summary>Moves an fd the engine just made to <see cref="OwnFdFloor"/> or above; the original number is freed.</summary>
    internal static int MoveOwn(int fd)
    {
        if (fd < 0 || fd >= OwnFdFloor)
        {
            return fd;
        }

        int moved = DupOwn(fd);
        if (moved < 0)
        {
            return fd;                       // no number up there: keep the low one rather than fail
        }

        _ = Close(fd);
        return moved;
    }
}
