using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Abi.Headers.Interop.Libclang;

namespace Abi.Headers.Extraction;

/// <summary>
/// Makes clang evaluate object-like macros: a synthetic file includes the same headers and
/// declares one constant per macro, typed with <c>__typeof__</c> so that the C type and
/// signedness of the expression survive; string macros become <c>const char *</c> because clang
/// will not evaluate an array. Macros that are not constant expressions (types, attributes)
/// produce an invalid declaration and are reported as not evaluated.
/// </summary>
internal sealed class MacroEvaluator
{
    private const string Prefix = "__abi_v_";
    private const string PointerSizeName = "__abi_pointer_size";

    private readonly HeaderExtractor _extractor;

    public MacroEvaluator(HeaderExtractor extractor) => _extractor = extractor;

    public readonly record struct Value(string Text, string CType, bool IsSigned, bool IsString, bool IsFloat = false);

    public sealed record Result(Dictionary<string, Value> Values, int PointerSize);

    public unsafe Result Evaluate(IReadOnlyList<HeaderExtractor.MacroDefinition> macros)
    {
        var source = new StringBuilder(_extractor.Includes());

        source.Append(CultureInfo.InvariantCulture, $"static const unsigned long {PointerSizeName} = sizeof(void *);\n");
        foreach (HeaderExtractor.MacroDefinition macro in macros)
        {
            if (macro.IsFunctionLike || macro.Body.Count == 0)
            {
                continue;
            }

            source.Append(macro.Body[0].StartsWith('"')
                ? $"static const char *const {Prefix}{macro.Name} = {macro.Name};\n"
                : $"static const __typeof__(({macro.Name})) {Prefix}{macro.Name} = ({macro.Name});\n");
        }

        using SafeCXTranslationUnitHandle tu = _extractor.Parse(source.ToString());
        var values = new Dictionary<string, Value>(StringComparer.Ordinal);
        int pointerSize = 0;
        foreach (CXCursor cursor in tu.Cursor.Children())
        {
            if (cursor.Kind != CXCursorKind.CXCursor_VarDecl || cursor.IsInvalidDeclaration)
            {
                continue;
            }

            string name = cursor.Spelling;
            if (name == PointerSizeName)
            {
                pointerSize = Evaluate(cursor) is { } size ? int.Parse(size.Text, CultureInfo.InvariantCulture) : 0;
            }
            else if (name.StartsWith(Prefix, StringComparison.Ordinal) && Evaluate(cursor) is { } value)
            {
                values[name[Prefix.Length..]] = value;
            }
        }

        if (pointerSize == 0)
        {
            throw new ExtractionException("clang could not evaluate sizeof(void *) for the target");
        }

        return new Result(values, pointerSize);
    }

    private static unsafe Value? Evaluate(CXCursor variable)
    {
        nint result = Libclang.clang_Cursor_Evaluate(variable);
        if (result == 0)
        {
            return null;
        }

        try
        {
            string cType = CTypeOf(variable.Type.Canonical.Spelling);
            switch (Libclang.clang_EvalResult_getKind(result))
            {
                case CXEvalResultKind.CXEval_Int:
                    bool unsigned = Libclang.clang_EvalResult_isUnsignedInt(result) != 0;
                    string text = unsigned
                        ? Libclang.clang_EvalResult_getAsUnsigned(result).ToString(CultureInfo.InvariantCulture)
                        : Libclang.clang_EvalResult_getAsLongLong(result).ToString(CultureInfo.InvariantCulture);
                    return new Value(text, cType, !unsigned, IsString: false);
                case CXEvalResultKind.CXEval_Float:
                    return new Value(Libclang.clang_EvalResult_getAsDouble(result).ToString("R", CultureInfo.InvariantCulture), cType, IsSigned: true, IsString: false, IsFloat: true);
                case CXEvalResultKind.CXEval_StrLiteral:
                    return new Value(Marshal.PtrToStringUTF8((nint)Libclang.clang_EvalResult_getAsStr(result)) ?? string.Empty, "const char *", IsSigned: false, IsString: true);
                default:
                    return null;
            }
        }
        finally
        {
            Libclang.clang_EvalResult_dispose(result);
        }
    }

    /// <summary>The C type of the expression: the declared constant's type without its <c>const</c>.</summary>
    private static string CTypeOf(string canonicalSpelling) =>
        canonicalSpelling.StartsWith("const ", StringComparison.Ordinal) ? canonicalSpelling["const ".Length..] : canonicalSpelling;
}
