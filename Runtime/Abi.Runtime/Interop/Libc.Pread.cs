using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, EntryPoint = "pread", SetLastError = true)]
    internal static partial nint Pread(int fd, byte* buffer, nuint count, long offset);
}
