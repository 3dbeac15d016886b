using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, EntryPoint = "readlink", SetLastError = true)]
    internal static partial nint Readlink(byte* path, byte* buffer, nuint size);
}
