using System.Runtime.InteropServices;

namespace Abi.Engine.Native;

internal static partial class Libc
{
    [LibraryImport(Library, EntryPoint = "dup", SetLastError = true)]
    internal static partial int Dup(int fd);
}
