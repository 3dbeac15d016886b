using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

/// <summary>An in-memory file handed to the parser; the pointers must stay pinned for the parse.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CXUnsavedFile
{
    public byte* Filename;
    public byte* Contents;
    public nuint Length;
}
