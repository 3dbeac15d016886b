using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

/// <summary>A string owned by libclang; dispose it once read.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXString : IDisposable
{
    private readonly nint _data;
    private readonly uint _privateFlags;

    public override unsafe string ToString()
    {
        byte* text = Libclang.clang_getCString(this);
        return text is null ? string.Empty : Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;
    }

    public void Dispose() => Libclang.clang_disposeString(this);
}
