using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static partial class Libc
{
    // ioctl is variadic in C; on x86_64 and arm64 Linux an integer third argument is passed exactly
    // as a fixed one, so the fixed signature is safe there.
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, nint argument);
}
