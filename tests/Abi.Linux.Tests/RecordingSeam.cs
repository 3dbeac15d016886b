using Abi.Interop;

namespace Abi.Linux.Tests;

/// <summary>
/// A seam that records the last call and answers with a fixed result, optionally letting a
/// handler write into the argument first. It stands in for the kernel only to observe what the
/// generated wrappers pass; it allocates nothing per call.
/// </summary>
internal sealed unsafe class RecordingSeam : IIoctlSeam
{
    public int Result { get; set; }

    public int LastFd { get; private set; }

    public uint LastRequest { get; private set; }

    public nint LastArgument { get; private set; }

    public int Calls { get; private set; }

    public delegate* managed<nint, int> Handler { get; set; }

    public int Ioctl(int fd, uint request, nint argument)
    {
        LastFd = fd;
        LastRequest = request;
        LastArgument = argument;
        Calls++;
        return Handler is null ? Result : Handler(argument);
    }
}
