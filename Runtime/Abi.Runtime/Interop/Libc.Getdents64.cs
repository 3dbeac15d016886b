using System.Runtime.InteropServices;

namespace Abi.Runtime.Native;

internal static unsafe partial class Libc
{
    // glibc's wrapper of the syscall (since 2.30): records of struct linux_dirent64.
    [LibraryImport(Library, EntryPoint = "getdents64", SetLastError = true)]
    internal static partial nint Getdents64(int fd, byte* buffer, nuint count);
}
