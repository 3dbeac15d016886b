using System.Text;
using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// Lets clang say which macros are ioctl request codes and what their argument type is, however the
/// header reaches <c>_IOR</c> (directly, or through <c>DRM_IOWR(DRM_COMMAND_BASE + n, T)</c>-style
/// macros): a synthetic file includes the headers, redefines <c>_IO</c>, <c>_IOR</c>, <c>_IOW</c>,
/// <c>_IOWR</c> and <c>_IOC</c> to null pointers of a telling type (the argument type, or a marker),
/// and declares one variable per macro typed with <c>__typeof__</c>. A variable of pointer type
/// marks an ioctl, its pointee the argument. The request code itself comes from the ordinary
/// evaluation, with the real macros.
/// </summary>
internal sealed class IoctlArgumentResolver
{
    private const string Prefix = "__abi_ioctl_";
    private const string OverridePrefix = "__abi_override_";
    private const string NoArgument = "__abi_no_argument";
    private const string RawSize = "__abi_raw_size";

    private static readonly string[] s_typedMacros = ["_IOR", "_IOW", "_IOWR", "_IOR_BAD", "_IOW_BAD", "_IOWR_BAD"];

    private readonly HeaderExtractor _extractor;
    private readonly IoctlOverrides _overrides;

    public IoctlArgumentResolver(HeaderExtractor extractor, IoctlOverrides overrides)
    {
        _extractor = extractor;
        _overrides = overrides;
    }

    /// <summary>Headers included only for the types overrides name; a C file using the model includes them too.</summary>
    public List<string> IncludedForOverrides { get; } = [];

    /// <summary>How a macro builds its request code.</summary>
    public enum Shape
    {
        /// <summary><c>_IO(type, nr)</c>: the encoding names no argument.</summary>
        None,

        /// <summary><c>_IOC(dir, type, nr, size)</c> written out: a size, no type.</summary>
        Raw,

        /// <summary><c>_IOR/_IOW/_IOWR(type, nr, T)</c>.</summary>
        Typed,
    }

    /// <summary>An ioctl macro: its shape and, for <see cref="Shape.Typed"/>, the argument type as described into the model.</summary>
    public sealed record Found(Shape Shape, TypeRef? Argument);

    /// <summary>
    /// Resolves <paramref name="candidates"/> (integer macros) and the C types the overrides name.
    /// Returns the ioctls found by name, and the override types by ioctl name.
    /// </summary>
    public (Dictionary<string, Found> Ioctls, Dictionary<string, TypeRef> OverrideTypes) Resolve(IReadOnlyList<MacroDecl> candidates)
    {
        // Only the overrides of this header's macros: a type they name is described into the model.
        var names = new HashSet<string>(candidates.Select(m => m.Name), StringComparer.Ordinal);
        List<IoctlOverride> typed = _overrides.Ioctls.Where(o => o.Type is not null && names.Contains(o.Name)).ToList();
        var source = new StringBuilder(_extractor.Includes());
        if (typed.Count > 0)
        {
            foreach (string header in _overrides.Includes.Where(_extractor.CanInclude))
            {
                source.Append($"#include <{header}>\n");
                IncludedForOverrides.Add(header);
            }
        }

        source.Append(
            $"""
            struct {NoArgument};
            struct {RawSize};
            #undef _IO
            #define _IO(type, nr) ((struct {NoArgument} *)0)
            #undef _IOC
            #define _IOC(dir, type, nr, size) ((struct {RawSize} *)0)

            """);
        foreach (string macro in s_typedMacros)
        {
            source.Append($"#undef {macro}\n#define {macro}(type, nr, argtype) ((__typeof__(argtype) *)0)\n");
        }

        foreach (MacroDecl macro in candidates)
        {
            source.Append($"static __typeof__({macro.Name}) {Prefix}{macro.Name};\n");
        }

        foreach (IoctlOverride entry in typed)
        {
            source.Append($"static __typeof__({entry.Type}) *{OverridePrefix}{entry.Name};\n");
        }

        var ioctls = new Dictionary<string, Found>(StringComparer.Ordinal);
        var overrideTypes = new Dictionary<string, TypeRef>(StringComparer.Ordinal);
        using SafeCXTranslationUnitHandle tu = _extractor.Parse(source.ToString());
        foreach (CXCursor cursor in tu.Cursor.Children())
        {
            if (cursor.Kind != CXCursorKind.CXCursor_VarDecl || cursor.IsInvalidDeclaration)
            {
                continue;
            }

            string name = cursor.Spelling;
            CXType type = cursor.Type.Canonical;
            if (type.Kind != CXTypeKind.CXType_Pointer)
            {
                continue;
            }

            CXType pointee = type.PointeeType;
            if (name.StartsWith(OverridePrefix, StringComparison.Ordinal))
            {
                string ioctl = name[OverridePrefix.Length..];
                if (_extractor.ResolveArgument(pointee, ioctl) is TypeRef resolved)
                {
                    overrideTypes[ioctl] = resolved;
                }

                continue;
            }

            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            string macroName = name[Prefix.Length..];
            string marker = pointee.Canonical.Declaration.Spelling;
            ioctls[macroName] = marker switch
            {
                NoArgument => new Found(Shape.None, null),
                RawSize => new Found(Shape.Raw, null),
                _ => new Found(Shape.Typed, _extractor.ResolveArgument(pointee, macroName)),
            };
        }

        return (ioctls, overrideTypes);
    }
}
