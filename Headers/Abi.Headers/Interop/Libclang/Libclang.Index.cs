using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

internal static unsafe partial class Libclang
{
    [LibraryImport(LibraryName)]
    internal static partial CXString clang_getClangVersion();

    [LibraryImport(LibraryName)]
    internal static partial nint clang_createIndex(int excludeDeclarationsFromPCH, int displayDiagnostics);

    [LibraryImport(LibraryName)]
    internal static partial void clang_disposeIndex(nint index);

    [LibraryImport(LibraryName)]
    internal static partial CXErrorCode clang_parseTranslationUnit2(
        SafeCXIndexHandle index,
        byte* sourceFilename,
        byte** commandLineArgs,
        int numCommandLineArgs,
        CXUnsavedFile* unsavedFiles,
        uint numUnsavedFiles,
        CXTranslationUnit_Flags options,
        nint* outTranslationUnit);

    [LibraryImport(LibraryName)]
    internal static partial void clang_disposeTranslationUnit(nint translationUnit);

    [LibraryImport(LibraryName)]
    internal static partial CXCursor clang_getTranslationUnitCursor(SafeCXTranslationUnitHandle translationUnit);

    [LibraryImport(LibraryName)]
    internal static partial uint clang_getNumDiagnostics(SafeCXTranslationUnitHandle translationUnit);

    [LibraryImport(LibraryName)]
    internal static partial nint clang_getDiagnostic(SafeCXTranslationUnitHandle translationUnit, uint index);

    [LibraryImport(LibraryName)]
    internal static partial CXDiagnosticSeverity clang_getDiagnosticSeverity(nint diagnostic);

    [LibraryImport(LibraryName)]
    internal static partial CXString clang_formatDiagnostic(nint diagnostic, uint options);

    [LibraryImport(LibraryName)]
    internal static partial void clang_disposeDiagnostic(nint diagnostic);

    [LibraryImport(LibraryName)]
    internal static partial CXString clang_getFileName(nint file);

    [LibraryImport(LibraryName)]
    internal static partial byte* clang_getCString(CXString text);

    [LibraryImport(LibraryName)]
    internal static partial void clang_disposeString(CXString text);

    /// <summary>Reads and frees a <see cref="CXString"/> in one step.</summary>
    internal static string TakeString(CXString text)
    {
        using (text)
        {
            return text.ToString();
        }
    }

    [LibraryImport(LibraryName)]
    internal static partial void clang_toggleCrashRecovery(uint isEnabled);
}
