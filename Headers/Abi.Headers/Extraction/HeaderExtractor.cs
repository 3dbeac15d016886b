using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// Turns UAPI headers into an <see cref="AbiModel"/> with libclang: one parse for declarations and
/// macro definitions, a second parse of a synthetic file that makes clang evaluate every
/// object-like macro (see <see cref="MacroEvaluator"/>), a third that makes clang resolve every
/// ioctl's argument type (see <see cref="IoctlArgumentResolver"/>). The walk is split by
/// declaration kind across the partials of this class. No construct stops the walk: what cannot be
/// described is left out or kept as bytes, with an <see cref="ExtractionNote"/> naming file and line.
/// </summary>
public sealed partial class HeaderExtractor : IDisposable
{
    private const string MainFileName = "abi-extract.c";

    private readonly ExtractionOptions _options;
    private readonly SafeCXIndexHandle _index;
    private readonly HeaderFiles _files;
    private readonly List<RecordDecl> _records = [];
    private readonly List<EnumDecl> _enums = [];
    private readonly List<ExtractionNote> _notes = [];
    private readonly List<(CXCursor Cursor, string Location)> _macroCursors = [];
    private readonly IReadOnlyList<string> _systemIncludeDirectories;
    private readonly IReadOnlyList<string> _prelude;

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

        _files = HeaderFiles.Resolve(options.Headers, options.IncludeDirectories, options.EmitFrom);
        try
        {
            Libclang.EnsureLoaded();
        }
        catch (DllNotFoundException e)
        {
            throw new LibclangNotFoundException("libclang could not be loaded: " + e.Message);
        }

        _index = SafeCXIndexHandle.Create();
        _systemIncludeDirectories = options.SystemIncludes ? SystemIncludeDirectories.For(options.Target) : [];

        // A prelude header missing from the include path is left out: a user's own header directory
        // need not hold the kernel's headers.
        _prelude = options.Prelude.Where(CanInclude).ToList();
    }

    /// <summary>The libclang shared library in use (after the first extractor was created).</summary>
    public static string? LibclangPath => Libclang.LoadedFrom;

    /// <summary>The clang arguments used for every parse.</summary>
    internal IReadOnlyList<string> ClangArguments()
    {
        var args = new List<string> { "-x", "c", "-std=gnu11", "-target", _options.Target, "-nostdinc", "-fparse-all-comments", "-ferror-limit=0" };
        foreach (string define in _options.Defines)
        {
            args.Add("-D" + define);
        }

        foreach (string dir in _options.IncludeDirectories)
        {
            args.Add("-I" + dir);
        }

        // After every -I, so that the kernel headers asked for win over the system's copy.
        foreach (string dir in _systemIncludeDirectories)
        {
            args.Add("-idirafter");
            args.Add(dir);
        }

        return args;
    }

    /// <summary>The <c>#include</c> lines every parse starts with: the prelude, then the headers.</summary>
    internal string Includes() =>
        string.Concat(_prelude.Concat(_options.Headers).Select(h => $"#include <{h}>\n"));

    /// <summary>Whether <paramref name="header"/> is on the include path.</summary>
    internal bool CanInclude(string header) =>
        _options.IncludeDirectories.Concat(_systemIncludeDirectories).Any(dir => File.Exists(Path.Combine(dir, header)));

    /// <summary>Runs the extraction.</summary>
    /// <exception cref="ExtractionException">A header is missing or does not parse.</exception>
    public AbiModel Extract()
    {
        using SafeCXTranslationUnitHandle tu = Parse(Includes());
        List<string> errors = tu.Diagnostics(CXDiagnosticSeverity.CXDiagnostic_Error);
        if (errors.Count > 0)
        {
            const int Shown = 20;
            throw new ExtractionException(
                $"the headers do not parse ({errors.Count} error(s)); add include directories, defines or a prelude:\n  "
                + string.Join("\n  ", errors.Take(Shown))
                + (errors.Count > Shown ? $"\n  ... and {errors.Count - Shown} more" : string.Empty));
        }

        foreach (CXCursor cursor in tu.Cursor.Children())
        {
            VisitTopLevel(cursor);
        }

        (List<MacroDecl> macros, int pointerSize) = VisitMacros();
        var overrides = _options.Overrides is null ? IoctlOverrides.BuiltIn : _options.Overrides.Over(IoctlOverrides.BuiltIn);
        var resolver = new IoctlArgumentResolver(this, overrides);
        var ioctls = new IoctlTableBuilder(overrides, _files, _options.Target, resolver, _notes, _records)
            .Build(macros);

        return new AbiModel
        {
            SchemaVersion = AbiModel.CurrentSchemaVersion,
            Profile = _options.Profile,
            Source = _options.Source,
            Target = new TargetInfo { Triple = _options.Target, PointerSize = pointerSize },
            Headers = _options.Headers.ToEquatableArray(),
            Prelude = _prelude.Concat(resolver.IncludedForOverrides).ToEquatableArray(),
            Records = _records.OrderBy(r => r.Name, StringComparer.Ordinal).ToEquatableArray(),
            Enums = _enums.ToEquatableArray(),
            Macros = macros.OrderBy(m => m.Name, StringComparer.Ordinal).ToEquatableArray(),
            Ioctls = ioctls.OrderBy(i => i.Name, StringComparer.Ordinal).ToEquatableArray(),
            Notes = _notes.Distinct().OrderBy(n => n.Location, StringComparer.Ordinal).ThenBy(n => n.Subject, StringComparer.Ordinal).ToEquatableArray(),
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
        // else at file scope in a UAPI header (inclusion directives, variables) carries no layout.
        switch (cursor.Kind)
        {
            case CXCursorKind.CXCursor_StructDecl:
            case CXCursorKind.CXCursor_UnionDecl:
                VisitRecord(cursor);
                break;
            case CXCursorKind.CXCursor_EnumDecl:
                if (cursor.IsDefinition && !IsTagless(cursor) && IsEmitted(cursor))
                {
                    EnumNameOf(cursor, suggested: null);
                }
                else if (cursor.IsDefinition && cursor.IsAnonymous && IsEmitted(cursor))
                {
                    // enum { A, B }; its constants are constants of the header.
                    VisitEnum(cursor, name: null);
                }

                break;
            case CXCursorKind.CXCursor_TypedefDecl:
                VisitTypedef(cursor);
                break;
            case CXCursorKind.CXCursor_MacroDefinition:
                if (IsEmitted(cursor))
                {
                    _macroCursors.Add((cursor, LocationOf(cursor)));
                }

                break;
            case CXCursorKind.CXCursor_MacroExpansion:
            case CXCursorKind.CXCursor_InclusionDirective:
            default:
                break;
        }
    }

    /// <summary><c>typedef struct { ... } name_t;</c>: the typedef names the record (or enum) the C source leaves untagged.</summary>
    private void VisitTypedef(CXCursor cursor)
    {
        CXCursor decl = cursor.TypedefUnderlyingType.Canonical.Declaration;
        if (!IsEmitted(cursor) || !decl.IsDefinition || !IsTagless(decl))
        {
            return;
        }

        string name = cursor.Spelling;
        switch (decl.Kind)
        {
            case CXCursorKind.CXCursor_StructDecl:
            case CXCursorKind.CXCursor_UnionDecl:
                RecordNameOf(decl, name, cType: name);
                break;
            case CXCursorKind.CXCursor_EnumDecl:
                EnumNameOf(decl, name);
                break;
        }
    }

    /// <summary>Whether a top-level declaration lies in a header whose declarations are emitted.</summary>
    private bool IsEmitted(CXCursor cursor) => _files.IsEmitted(cursor.Location.File);

    /// <summary>The <c>header:line</c> of a cursor, with the header named as a C file includes it.</summary>
    private string LocationOf(CXCursor cursor)
    {
        (string file, int line) = cursor.Location;
        return $"{_files.DisplayNameOf(file)}:{line}";
    }

    /// <summary>A struct, union or enum with no tag of its own (libclang spells those "" or "(unnamed ...)" by version).</summary>
    private static bool IsTagless(CXCursor decl)
    {
        string spelling = decl.Spelling;
        if (decl.IsAnonymous || spelling.Length == 0 || spelling.Contains("(unnamed", StringComparison.Ordinal) || spelling.Contains("(anonymous", StringComparison.Ordinal))
        {
            return true;
        }

        // libclang 16 and later spell "typedef struct { ... } name_t" by its typedef name and do not
        // call it anonymous: the source says it, no tag between the keyword and the brace.
        List<string> tokens = Libclang.TokensOf(decl, 64);
        int i = tokens.FindIndex(t => t is "struct" or "union" or "enum");
        if (i < 0)
        {
            return false;
        }

        for (i++; i < tokens.Count && tokens[i] is "__attribute__" or "__attribute" or "__aligned__"; i++)
        {
            // Skip the attribute's balanced parentheses.
            int depth = 0;
            do
            {
                i++;
                depth += tokens[i] == "(" ? 1 : tokens[i] == ")" ? -1 : 0;
            }
            while (depth > 0 && i + 1 < tokens.Count);
        }

        return i < tokens.Count && tokens[i] == "{";
    }

    private void Note(ExtractionNoteKind kind, string location, string subject, string reason) =>
        _notes.Add(new ExtractionNote { Kind = kind, Location = location, Subject = subject, Reason = reason });
}
