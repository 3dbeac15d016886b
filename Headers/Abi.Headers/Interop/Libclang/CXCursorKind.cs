namespace Abi.Headers.Interop.Libclang;

/// <summary>The cursor kinds the extractor meets (values from clang-c/Index.h, stable across libclang 14-19).</summary>
internal enum CXCursorKind
{
    CXCursor_StructDecl = 2,
    CXCursor_NoDeclFound = 71,
    CXCursor_UnionDecl = 3,
    CXCursor_EnumDecl = 5,
    CXCursor_FieldDecl = 6,
    CXCursor_EnumConstantDecl = 7,
    CXCursor_FunctionDecl = 8,
    CXCursor_VarDecl = 9,
    CXCursor_TypedefDecl = 20,
    CXCursor_TranslationUnit = 300,
    CXCursor_PackedAttr = 408,
    CXCursor_AlignedAttr = 441,
    CXCursor_MacroDefinition = 501,
    CXCursor_MacroExpansion = 502,
    CXCursor_InclusionDirective = 503,
}
