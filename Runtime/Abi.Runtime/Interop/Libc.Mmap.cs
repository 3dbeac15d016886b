using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static partial class Libc
{
    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);
}
