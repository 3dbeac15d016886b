using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static partial class Libc
{
    [LibraryImport(Library, EntryPoint = "munmap", SetLastError = true)]
    internal static partial int Munmap(nint address, nuint length);
}
