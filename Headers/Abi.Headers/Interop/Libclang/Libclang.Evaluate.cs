using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

internal static unsafe partial class Libclang
{
    [LibraryImport(LibraryName)]
    internal static partial nint clang_Cursor_Evaluate(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXEvalResultKind clang_EvalResult_getKind(nint result);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_EvalResult_isUnsignedInt(nint result);

    [LibraryImport(LibraryName)]
    internal static partial ulong clang_EvalResult_getAsUnsigned(nint result);

    [LibraryImport(LibraryName)]
    internal static partial long clang_EvalResult_getAsLongLong(nint result);

    [LibraryImport(LibraryName)]
    internal static partial double clang_EvalResult_getAsDouble(nint result);

    [LibraryImport(LibraryName)]
    internal static partial byte* clang_EvalResult_getAsStr(nint result);

    [LibraryImport(LibraryName)]
    internal static partial void clang_EvalResult_dispose(nint result);
}
