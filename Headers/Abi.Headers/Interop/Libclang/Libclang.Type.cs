using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

internal static unsafe partial class Libclang
{
    [LibraryImport(LibraryName)]
    internal static partial CXString clang_getTypeSpelling(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_getCanonicalType(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial long clang_Type_getSizeOf(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial long clang_Type_getAlignOf(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_getArrayElementType(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial long clang_getArraySize(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_getPointeeType(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial CXCursor clang_getTypeDeclaration(CXType type);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_Type_visitFields(CXType type, delegate* unmanaged<CXCursor, nint, CXVisitorResult> visitor, nint clientData);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_Type_getNamedType(CXType type);
}
