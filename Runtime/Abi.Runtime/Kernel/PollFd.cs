using System.Runtime.InteropServices;

namespace Abi.Runtime.Kernel;

/// <summary><c>struct pollfd</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct PollFd
{
    /// <summary>The file descriptor.</summary>
    public int Fd;

    /// <summary>Requested events (<see cref="LinuxConstants.POLLIN"/>...).</summary>
    public short Events;

    /// <summary>Returned events.</summary>
    public short ReturnedEvents;
}
