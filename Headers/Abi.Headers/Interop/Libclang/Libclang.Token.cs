using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

internal static unsafe partial class Libclang
{
    [LibraryImport(LibraryName)]
    internal static partial CXTokenKind clang_getTokenKind(CXToken token);

    [LibraryImport(LibraryName)]
    internal static partial nint clang_Cursor_getTranslationUnit(CXCursor cursor);

    // The translation unit as the cursor names it: cursors are only used while their unit is open.
    [LibraryImport(LibraryName)]
    private static partial void clang_tokenize(nint translationUnit, CXSourceRange range, CXToken** tokens, uint* numTokens);

    [LibraryImport(LibraryName)]
    private static partial void clang_disposeTokens(nint translationUnit, CXToken* tokens, uint numTokens);

    [LibraryImport(LibraryName)]
    private static partial CXString clang_getTokenSpelling(nint translationUnit, CXToken token);

    /// <summary>The spellings of the first <paramref name="limit"/> tokens of a cursor's extent, in the translation unit that holds it.</summary>
    internal static List<string> TokensOf(CXCursor cursor, int limit = int.MaxValue)
    {
        nint translationUnit = clang_Cursor_getTranslationUnit(cursor);
        CXToken* tokens;
        uint count;
        clang_tokenize(translationUnit, cursor.Extent, &tokens, &count);
        try
        {
            var spellings = new List<string>(Math.Min((int)count, limit));
            for (uint i = 0; i < count && i < limit; i++)
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
}
