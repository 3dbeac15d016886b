using System.Runtime.InteropServices;

namespace Abi.Engine.Native;

internal static unsafe partial class Libc
{
    internal const int EpollCloexec = 0x80000;
    internal const int EpollCtlAdd = 1;
    internal const int EpollCtlDel = 2;
    internal const uint EpollIn = 0x001;
    internal const uint EpollEt = 1u << 31;
    internal const short PollIn = 0x001;

    /// <summary><c>struct epoll_event</c>: packed on x86-64 (12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    internal struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary><c>struct pollfd</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Library, EntryPoint = "epoll_create1", SetLastError = true)]
    internal static partial int EpollCreate1(int flags);

    [LibraryImport(Library, EntryPoint = "epoll_ctl", SetLastError = true)]
    internal static partial int EpollCtl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(Library, EntryPoint = "epoll_wait", SetLastError = true)]
    internal static partial int EpollWait(int epfd, EpollEvent* events, int maxEvents, int timeout);

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeout);

    /// <summary>preadv2's RWF_NOWAIT: EAGAIN instead of blocking, whatever the file's O_NONBLOCK says.</summary>
    internal const int RwfNowait = 0x8;

    /// <summary><c>struct iovec</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Iovec
    {
        public void* Base;
        public nuint Length;
    }

    [LibraryImport(Library, EntryPoint = "preadv2", SetLastError = true)]
    internal static partial nint Preadv2(int fd, Iovec* iov, int count, long offset, int flags);
}
