using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static unsafe partial class Libc
{
    [LibraryImport(Library, EntryPoint = "open", SetLastError = true)]
    internal static partial int Open(byte* path, int flags, int mode);
}
