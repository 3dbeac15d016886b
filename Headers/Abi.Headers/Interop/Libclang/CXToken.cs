using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

[StructLayout(LayoutKind.Sequential)]
internal readonly struct CXToken
{
    private readonly uint _intData0;
    private readonly uint _intData1;
    private readonly uint _intData2;
    private readonly uint _intData3;
    private readonly nint _ptrData;
}
