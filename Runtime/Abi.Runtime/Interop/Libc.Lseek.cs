using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long Lseek(int fd, long offset, int whence);
}
