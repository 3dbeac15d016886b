using System.Runtime.InteropServices;

namespace Abi.Engine.Native;

internal static unsafe partial class Libc
{
    /// <summary>x86-64 <c>struct stat</c> is 144 bytes; st_dev is at 0 and st_ino at 8.</summary>
    internal const int StatSize = 144;

    [LibraryImport(Library, EntryPoint = "fstat", SetLastError = true)]
    internal static partial int Fstat(int fd, byte* buffer);

    /// <summary>x86-64 <c>struct statfs</c> is 120 bytes; f_type is its first field.</summary>
    internal const int StatfsSize = 120;

    [LibraryImport(Library, EntryPoint = "fstatfs", SetLastError = true)]
    internal static partial int Fstatfs(int fd, byte* buffer);
}
