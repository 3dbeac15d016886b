using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

internal static unsafe partial class Libclang
{
    [LibraryImport(LibraryName)]
    internal static partial void clang_tokenize(SafeCXTranslationUnitHandle translationUnit, CXSourceRange range, CXToken** tokens, uint* numTokens);

    [LibraryImport(LibraryName)]
    internal static partial void clang_disposeTokens(SafeCXTranslationUnitHandle translationUnit, CXToken* tokens, uint numTokens);

    [LibraryImport(LibraryName)]
    internal static partial CXString clang_getTokenSpelling(SafeCXTranslationUnitHandle translationUnit, CXToken token);

    [LibraryImport(LibraryName)]
    internal static partial CXTokenKind clang_getTokenKind(CXToken token);

    /// <summary>The spellings of the tokens in <paramref name="range"/>.</summary>
    internal static List<string> Tokenize(SafeCXTranslationUnitHandle translationUnit, CXSourceRange range)
    {
        CXToken* tokens;
        uint count;
        clang_tokenize(translationUnit, range, &tokens, &count);
        try
        {
            var spellings = new List<string>((int)count);
            for (uint i = 0; i < count; i++)
            {
                spellings.Add(TakeString(clang_getTokenSpelling(translationUnit, tokens[i])));
            }

            return spellings;
        }
        finally
        {
            if (tokens is not null)
            {
                clang_disposeTokens(translationUnit, tokens, count);
            }
        }
    }

    [LibraryImport(LibraryName)]
    internal static partial nint clang_Cursor_getTranslationUnit(CXCursor cursor);

    [LibraryImport(LibraryName, EntryPoint = "clang_tokenize")]
    private static partial void clang_tokenize_raw(nint translationUnit, CXSourceRange range, CXToken** tokens, uint* numTokens);

    [LibraryImport(LibraryName, EntryPoint = "clang_disposeTokens")]
    private static partial void clang_disposeTokens_raw(nint translationUnit, CXToken* tokens, uint numTokens);

    [LibraryImport(LibraryName, EntryPoint = "clang_getTokenSpelling")]
    private static partial CXString clang_getTokenSpelling_raw(nint translationUnit, CXToken token);

    /// <summary>The first <paramref name="limit"/> token spellings of a cursor's extent, in the translation unit that holds it.</summary>
    internal static List<string> TokensOf(CXCursor cursor, int limit)
    {
        nint translationUnit = clang_Cursor_getTranslationUnit(cursor);
        CXToken* tokens;
        uint count;
        clang_tokenize_raw(translationUnit, cursor.Extent, &tokens, &count);
        try
        {
            var spellings = new List<string>(Math.Min((int)count, limit));
            for (uint i = 0; i < count && i < limit; i++)
            {
                spellings.Add(TakeString(clang_getTokenSpelling_raw(translationUnit, tokens[i])));
            }

            return spellings;
        }
        finally
        {
            if (tokens is not null)
            {
                clang_disposeTokens_raw(translationUnit, tokens, count);
            }
        }
    }
}
