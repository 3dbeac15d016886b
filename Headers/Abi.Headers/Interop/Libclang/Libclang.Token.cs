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
}
