using System.Runtime.InteropServices;

namespace Abi.Interop;

/// <summary>
/// The seam served by the real kernel: libc's <c>ioctl(2)</c>, for generated bindings used on their
/// own (the Abi runtime brings its own seam, which can also serve the in-process engine). A failed
/// call returns <c>-errno</c>; EINTR is returned too, since whether a request can be repeated is the
/// caller's knowledge. Under the LD_PRELOAD interposer, a NativeAOT program needs
/// <c>&lt;DirectPInvoke Include="libc" /&gt;</c> for this call to reach the shim.
/// </summary>
public sealed partial class LinuxIoctlSeam : IIoctlSeam
{
    private LinuxIoctlSeam()
    {
    }

    /// <summary>The one instance; it holds no state.</summary>
    public static LinuxIoctlSeam Instance { get; } = new();

    /// <inheritdoc/>
    public int Ioctl(int fd, uint request, nint argument)
    {
        int result = ioctl(fd, request, argument);
        return result >= 0 ? result : -Marshal.GetLastPInvokeError();
    }

    // The request is unsigned long in glibc's prototype; a uint widens to it without sign extension.
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int ioctl(int fd, nuint request, nint argument);
}
