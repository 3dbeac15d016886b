using System.Text.RegularExpressions;
using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    [GeneratedRegex(@"\b(struct|union|enum) \((?:unnamed|anonymous)[^)]*\)")]
    private static partial Regex UnnamedType();

    /// <summary>
    /// Maps a type onto the model: array dimensions peeled off, then the element kind by its
    /// canonical type. Records and enums the type names are described on the way, wherever they are
    /// declared; an untagged one is named <paramref name="suggested"/> and reached in C through
    /// <paramref name="access"/> (an unclosed <c>__typeof__(</c> expression, closed here after
    /// one <c>[0]</c> per array dimension). A type C# has no equivalent for (<c>long double</c>,
    /// <c>__int128</c>, vectors) becomes bytes of its size, with a note; one with no size is left
    /// out (null), with a note.
    /// </summary>
    private TypeRef? ResolveType(CXType type, string where, string location, string suggested, string access)
    {
        string spelling = type.Spelling;
        var lengths = new List<int>();
        bool flexible = false;
        CXType element = type;
        while (true)
        {
            CXType canonical = element.Canonical;
            if (canonical.Kind == CXTypeKind.CXType_IncompleteArray && lengths.Count == 0 && !flexible)
            {
                flexible = true;
            }
            else if (canonical.Kind == CXTypeKind.CXType_ConstantArray && canonical.ArraySize == 0 && lengths.Count == 0 && !flexible)
            {
                // The GNU zero-length array, the older spelling of a flexible array member.
                flexible = true;
            }
            else if (canonical.Kind == CXTypeKind.CXType_ConstantArray)
            {
                lengths.Add(checked((int)canonical.ArraySize));
            }
            else
            {
                break;
            }

            // Keep the non-canonical element where possible, so that pointees keep their typedef names.
            CXType next = element.ArrayElementType;
            element = next.Kind == CXTypeKind.CXType_Invalid ? canonical.ArrayElementType : next;
        }

        CXType elementCanonical = element.Canonical;
        long elementSize = elementCanonical.SizeOf;
        string elementAccess = access + string.Concat(Enumerable.Repeat("[0]", lengths.Count + (flexible ? 1 : 0))) + ")";
        TypeKind? kind = KindOf(elementCanonical, elementSize);
        if (kind is null)
        {
            if (elementSize <= 0)
            {
                Note(ExtractionNoteKind.Skipped, location, where, $"its type '{spelling}' has no size");
                return null;
            }

            Note(ExtractionNoteKind.Opaque, location, where, $"its type '{elementCanonical.Spelling}' has no C# equivalent; kept as {elementSize} bytes");
            return new TypeRef
            {
                Spelling = spelling,
                Kind = TypeKind.UInt8,
                ElementSize = 1,
                ArrayLengths = lengths.Append(checked((int)elementSize)).ToEquatableArray(),
                IsFlexibleArray = flexible,
            };
        }

        string? name = null;
        string? pointee = null;
        TypeKind? enumBase = null;
        switch (kind)
        {
            case TypeKind.Record:
                {
                    (string? typedefName, _) = TypedefOf(element);
                    CXCursor decl = elementCanonical.Declaration;
                    name = typedefName is not null && IsTagless(decl)
                        ? RecordNameOf(decl, typedefName, typedefName)
                        : RecordNameOf(decl, suggested, elementAccess);
                    break;
                }

            case TypeKind.Enum:
                {
                    CXCursor decl = elementCanonical.Declaration;
                    (string? typedefName, _) = TypedefOf(element);
                    name = EnumNameOf(decl, typedefName);
                    CXType integer = decl.EnumIntegerType.Canonical;
                    enumBase = KindOf(integer, integer.SizeOf) ?? TypeKind.Int32;
                    break;
                }

            case TypeKind.Pointer:
                pointee = element.PointeeType.Spelling;
                break;
        }

        return new TypeRef
        {
            // libclang spells an untagged type with the path of its file ("struct (unnamed struct at
            // /usr/include/...:12:3)"), worded by version; the model names it as it names the type.
            Spelling = UnnamedType().Replace(spelling, m => $"{m.Groups[1].Value} {name ?? "(unnamed)"}"),
            Kind = kind.Value,
            ElementSize = checked((int)elementSize),
            Name = name,
            Pointee = pointee,
            EnumBase = enumBase,
            ArrayLengths = lengths.ToEquatableArray(),
            IsFlexibleArray = flexible,
        };
    }

    /// <summary>
    /// An ioctl's argument type (from another parse of the same headers: records are keyed by USR,
    /// so they resolve to the same model names), describing any record it names.
    /// </summary>
    internal TypeRef? ResolveArgument(CXType type, string ioctl)
    {
        CXCursor decl = type.Canonical.Declaration;
        string location = decl.IsNull || decl.Kind == CXCursorKind.CXCursor_NoDeclFound ? "<ioctl>" : LocationOf(decl);
        return ResolveType(type, ioctl, location, ioctl.ToLowerInvariant() + "_arg", $"__typeof__(*({ioctl} + 0)");
    }

    /// <summary>The typedef a (possibly elaborated) type is spelled with, if any.</summary>
    private static (string? Name, CXType Type) TypedefOf(CXType type)
    {
        CXType t = type;
        for (int i = 0; i < 8; i++)
        {
            if (t.Kind == CXTypeKind.CXType_Typedef)
            {
                return (t.Declaration.Spelling, t);
            }

            if (t.Kind != CXTypeKind.CXType_Elaborated)
            {
                break;
            }

            t = Libclang.clang_Type_getNamedType(t);
        }

        return (null, type);
    }

    internal static TypeKind? KindOf(CXType canonical, long size) => canonical.Kind switch
    {
        CXTypeKind.CXType_Bool => TypeKind.Bool,
        CXTypeKind.CXType_Char_S or CXTypeKind.CXType_Char_U => TypeKind.Char,
        CXTypeKind.CXType_SChar => TypeKind.Int8,
        CXTypeKind.CXType_UChar => TypeKind.UInt8,
        CXTypeKind.CXType_Short => TypeKind.Int16,
        CXTypeKind.CXType_UShort => TypeKind.UInt16,
        CXTypeKind.CXType_Int => TypeKind.Int32,
        CXTypeKind.CXType_UInt => TypeKind.UInt32,
        CXTypeKind.CXType_Long => size == 8 ? TypeKind.Int64 : TypeKind.Int32,
        CXTypeKind.CXType_ULong => size == 8 ? TypeKind.UInt64 : TypeKind.UInt32,
        CXTypeKind.CXType_LongLong => TypeKind.Int64,
        CXTypeKind.CXType_ULongLong => TypeKind.UInt64,
        CXTypeKind.CXType_Float => TypeKind.Float,
        CXTypeKind.CXType_Double => TypeKind.Double,
        CXTypeKind.CXType_Pointer => TypeKind.Pointer,
        CXTypeKind.CXType_Record => TypeKind.Record,
        CXTypeKind.CXType_Enum => TypeKind.Enum,
        _ => null,
    };
}
