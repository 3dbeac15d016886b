using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    /// <summary>Maps a field type onto the model: array dimensions peeled off, then the element kind by its canonical type.</summary>
    private static TypeRef ResolveType(CXType type, string where)
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
        TypeKind kind = KindOf(elementCanonical, elementSize, where);
        string? name = null;
        string? pointee = null;
        TypeKind? enumBase = null;
        switch (kind)
        {
            case TypeKind.Record:
                name = elementCanonical.Declaration.Spelling;
                break;
            case TypeKind.Enum:
                CXCursor decl = elementCanonical.Declaration;
                name = decl.IsAnonymous ? null : decl.Spelling;
                CXType integer = decl.EnumIntegerType.Canonical;
                enumBase = KindOf(integer, integer.SizeOf, where);
                break;
            case TypeKind.Pointer:
                pointee = element.PointeeType.Spelling;
                break;
        }

        return new TypeRef
        {
            Spelling = spelling,
            Kind = kind,
            ElementSize = checked((int)elementSize),
            Name = name,
            Pointee = pointee,
            EnumBase = enumBase,
            ArrayLengths = lengths.ToEquatableArray(),
            IsFlexibleArray = flexible,
        };
    }

    internal static TypeKind KindOf(CXType canonical, long size, string where) => canonical.Kind switch
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
        _ => throw new ExtractionException($"{where}: unsupported type {canonical.Spelling} ({canonical.Kind})"),
    };
}
