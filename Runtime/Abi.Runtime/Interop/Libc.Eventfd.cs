using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static partial class Libc
{
    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int Eventfd(uint initialValue, int flags);
}
