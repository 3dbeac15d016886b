using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

internal static unsafe partial class Libclang
{
    [LibraryImport(LibraryName)]
    internal static partial uint clang_visitChildren(CXCursor parent, delegate* unmanaged<CXCursor, CXCursor, nint, CXChildVisitResult> visitor, nint clientData);

    [LibraryImport(LibraryName)]
    internal static partial int clang_Cursor_isNull(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXString clang_getCursorSpelling(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_getCursorType(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXSourceLocation clang_getCursorLocation(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXSourceRange clang_getCursorExtent(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial void clang_getExpansionLocation(CXSourceLocation location, nint* file, uint* line, uint* column, uint* offset);

    [LibraryImport(LibraryName)]
    internal static partial int clang_Cursor_isAnonymous(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial int clang_Cursor_isAnonymousRecordDecl(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_isCursorDefinition(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_isInvalidDeclaration(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_Cursor_isBitField(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial int clang_getFieldDeclBitWidth(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial long clang_Cursor_getOffsetOfField(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_Cursor_isMacroFunctionLike(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXString clang_Cursor_getRawCommentText(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_getEnumDeclIntegerType(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial long clang_getEnumConstantDeclValue(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial ulong clang_getEnumConstantDeclUnsignedValue(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXString clang_getCursorUSR(CXCursor cursor);

    [LibraryImport(LibraryName)]
    internal static partial CXType clang_getTypedefDeclUnderlyingType(CXCursor cursor);

    [UnmanagedCallersOnly]
    internal static CXChildVisitResult CollectChild(CXCursor cursor, CXCursor parent, nint clientData)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr(clientData).Target!).Add(cursor);
        return CXChildVisitResult.CXChildVisit_Continue;
    }

    [UnmanagedCallersOnly]
    internal static CXVisitorResult CollectField(CXCursor cursor, nint clientData)
    {
        ((List<CXCursor>)GCHandle.FromIntPtr(clientData).Target!).Add(cursor);
        return CXVisitorResult.CXVisit_Continue;
    }
}
