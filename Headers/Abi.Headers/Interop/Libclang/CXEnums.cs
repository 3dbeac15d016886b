namespace Abi.Headers.Interop.Libclang;

internal enum CXErrorCode
{
    CXError_Success = 0,
    CXError_Failure = 1,
    CXError_Crashed = 2,
    CXError_InvalidArguments = 3,
    CXError_ASTReadError = 4,
}

[Flags]
internal enum CXTranslationUnit_Flags : uint
{
    CXTranslationUnit_None = 0,
    CXTranslationUnit_DetailedPreprocessingRecord = 0x01,
    CXTranslationUnit_SkipFunctionBodies = 0x40,
    CXTranslationUnit_KeepGoing = 0x200,
}

internal enum CXChildVisitResult
{
    CXChildVisit_Break = 0,
    CXChildVisit_Continue = 1,
    CXChildVisit_Recurse = 2,
}

internal enum CXVisitorResult
{
    CXVisit_Break = 0,
    CXVisit_Continue = 1,
}

internal enum CXEvalResultKind
{
    CXEval_UnExposed = 0,
    CXEval_Int = 1,
    CXEval_Float = 2,
    CXEval_ObjCStrLiteral = 3,
    CXEval_StrLiteral = 4,
    CXEval_CFStr = 5,
    CXEval_Other = 6,
}

internal enum CXTokenKind
{
    CXToken_Punctuation = 0,
    CXToken_Keyword = 1,
    CXToken_Identifier = 2,
    CXToken_Literal = 3,
    CXToken_Comment = 4,
}

internal enum CXDiagnosticSeverity
{
    CXDiagnostic_Ignored = 0,
    CXDiagnostic_Note = 1,
    CXDiagnostic_Warning = 2,
    CXDiagnostic_Error = 3,
    CXDiagnostic_Fatal = 4,
}
