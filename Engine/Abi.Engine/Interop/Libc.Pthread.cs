using System.Runtime.InteropServices;

namespace Abi.Engine.Native;

internal static unsafe partial class Libc
{
    /// <summary>glibc's <c>pthread_attr_t</c> is 56 bytes on x86-64; 64 leaves room.</summary>
    internal const int PthreadAttrSize = 64;

    [LibraryImport(Library, EntryPoint = "pthread_self")]
    internal static partial nuint PthreadSelf();

    [LibraryImport(Library, EntryPoint = "pthread_getattr_np")]
    internal static partial int PthreadGetattrNp(nuint thread, void* attr);

    [LibraryImport(Library, EntryPoint = "pthread_attr_getstack")]
    internal static partial int PthreadAttrGetstack(void* attr, nint* stackAddress, nuint* stackSize);

    [LibraryImport(Library, EntryPoint = "pthread_attr_destroy")]
    internal static partial int PthreadAttrDestroy(void* attr);
}
