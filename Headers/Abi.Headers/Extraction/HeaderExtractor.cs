using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// Turns UAPI headers into an <see cref="AbiModel"/> with libclang: one parse for declarations and
/// macro definitions, a second parse of a synthetic file that makes clang evaluate every
/// object-like macro (see <see cref="MacroEvaluator"/>). The walk is split by declaration kind
/// across the partials of this class.
/// </summary>
public sealed partial class HeaderExtractor : IDisposable
{
    private const string MainFileName = "abi-extract.c";

    private readonly ExtractionOptions _options;
    private readonly SafeCXIndexHandle _index;
    private readonly HeaderFiles _files;
    private readonly List<RecordDecl> _records = [];
    private readonly List<EnumDecl> _enums = [];
    private readonly List<(CXCursor Cursor, string Location)> _macroCursors = [];
    private readonly HashSet<string> _seenRecords = new(StringComparer.Ordinal);

    public HeaderExtractor(ExtractionOptions options)
    {
        _options = options;
        foreach (string dir in options.IncludeDirectories)
        {
            if (!Directory.Exists(dir))
            {
                throw new ExtractionException($"include directory not found: {dir}");
            }
        }

        _files = HeaderFiles.Resolve(options.Headers, options.IncludeDirectories);
        try
        {
            Libclang.EnsureLoaded();
        }
        catch (DllNotFoundException e)
        {
            throw new LibclangNotFoundException("libclang could not be loaded: " + e.Message);
        }

        _index = SafeCXIndexHandle.Create();
    }

    /// <summary>The libclang shared library in use (after the first extractor was created).</summary>
    public static string? LibclangPath => Libclang.LoadedFrom;

    /// <summary>The clang arguments used for both parses.</summary>
    internal IReadOnlyList<string> ClangArguments()
    {
        var args = new List<string> { "-x", "c", "-std=gnu11", "-target", _options.Target, "-nostdinc", "-fparse-all-comments", "-ferror-limit=0" };
        foreach (string dir in _options.IncludeDirectories)
        {
            args.Add("-I" + dir);
        }

        return args;
    }

    /// <summary>Runs the extraction.</summary>
    /// <exception cref="ExtractionException">A header is missing or does not parse.</exception>
    public AbiModel Extract()
    {
        string mainFile = string.Concat(_options.Headers.Select(h => $"#include <{h}>\n"));
        using SafeCXTranslationUnitHandle tu = Parse(mainFile);
        List<string> errors = tu.Diagnostics(CXDiagnosticSeverity.CXDiagnostic_Error);
        if (errors.Count > 0)
        {
            throw new ExtractionException($"the headers do not parse ({errors.Count} error(s)); first: {errors[0]}");
        }

        foreach (CXCursor cursor in tu.Cursor.Children())
        {
            VisitTopLevel(cursor);
        }

        (List<MacroDecl> macros, int pointerSize) = VisitMacros(tu);
        var ioctls = new IoctlTableBuilder(_options.Overrides ?? IoctlOverrides.BuiltIn, _files, _options.Target)
            .Build(macros, _records);

        return new AbiModel
        {
            SchemaVersion = AbiModel.CurrentSchemaVersion,
            Profile = _options.Profile,
            Source = _options.Source,
            Target = new TargetInfo { Triple = _options.Target, PointerSize = pointerSize },
            Headers = _options.Headers.ToEquatableArray(),
            Records = _records.OrderBy(r => r.Name, StringComparer.Ordinal).ToEquatableArray(),
            Enums = _enums.ToEquatableArray(),
            Macros = macros.OrderBy(m => m.Name, StringComparer.Ordinal).ToEquatableArray(),
            Ioctls = ioctls.OrderBy(i => i.Name, StringComparer.Ordinal).ToEquatableArray(),
        };
    }

    public void Dispose() => _index.Dispose();

    internal SafeCXTranslationUnitHandle Parse(string contents) =>
        SafeCXTranslationUnitHandle.Parse(
            _index,
            MainFileName,
            contents,
            ClangArguments(),
            CXTranslationUnit_Flags.CXTranslationUnit_DetailedPreprocessingRecord | CXTranslationUnit_Flags.CXTranslationUnit_KeepGoing);

    private void VisitTopLevel(CXCursor cursor)
    {
        // A visible checklist of what the walk handles, as ClangSharp's VisitDecl does; everything
        // else at file scope in a UAPI header (typedefs, inclusion directives) carries no layout.
        switch (cursor.Kind)
        {
            case CXCursorKind.CXCursor_StructDecl:
            case CXCursorKind.CXCursor_UnionDecl:
                VisitRecord(cursor);
                break;
            case CXCursorKind.CXCursor_EnumDecl:
                VisitEnum(cursor);
                break;
            case CXCursorKind.CXCursor_MacroDefinition:
                if (Locate(cursor) is string location)
                {
                    _macroCursors.Add((cursor, location));
                }

                break;
            case CXCursorKind.CXCursor_TypedefDecl:
            case CXCursorKind.CXCursor_MacroExpansion:
            case CXCursorKind.CXCursor_InclusionDirective:
            default:
                break;
        }
    }

    /// <summary>The <c>header:line</c> of a cursor if it lies in one of the requested headers, else null.</summary>
    private string? Locate(CXCursor cursor)
    {
        (string file, int line) = cursor.Location;
        return _files.IncludeNameOf(file) is string name ? $"{name}:{line}" : null;
    }
}
