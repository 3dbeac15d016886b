using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXSourceRange
{
    private readonly nint _ptrData0;
    private readonly nint _ptrData1;
    private readonly uint _beginIntData;
    private readonly uint _endIntData;
}
