using System.Linq;
using Abi.Model;

namespace Abi.Generators.Helpers;

/// <summary>C types of the model to C# types with the same size and representation.</summary>
internal static class TypeMapper
{
    public static string Primitive(TypeKind kind) => kind switch
    {
        TypeKind.Bool => "byte",
        TypeKind.Char => "byte",
        TypeKind.Int8 => "sbyte",
        TypeKind.UInt8 => "byte",
        TypeKind.Int16 => "short",
        TypeKind.UInt16 => "ushort",
        TypeKind.Int32 => "int",
        TypeKind.UInt32 => "uint",
        TypeKind.Int64 => "long",
        TypeKind.UInt64 => "ulong",
        TypeKind.Float => "float",
        TypeKind.Double => "double",
        _ => "byte",
    };

    /// <summary>The element type of a field (arrays stripped).</summary>
    public static string Element(TypeRef type) => type.Kind switch
    {
        TypeKind.Record => Naming.Identifier(type.Name!),
        TypeKind.Enum => type.Name is null ? Primitive(type.EnumBase ?? TypeKind.Int32) : Naming.Identifier(type.Name),
        TypeKind.Pointer => Pointer(type.Pointee),
        _ => Primitive(type.Kind),
    };

    /// <summary>The full field type: nested <c>FixedArrayN&lt;T&gt;</c> for fixed arrays.</summary>
    public static string Field(TypeRef type)
    {
        // A pointer cannot be a generic argument: arrays of pointers hold pointer-sized integers.
        string element = type.Kind == TypeKind.Pointer && type.ArrayLengths.Count > 0 ? "nint" : Element(type);
        return type.ArrayLengths.AsSpan().ToArray().Reverse().Aggregate(element, (inner, length) => $"FixedArray{length}<{inner}>");
    }

    /// <summary>C# constant type for a macro's C type, or null if C# has none.</summary>
    public static string? ConstantType(string cType) => cType switch
    {
        "int" => "int",
        "unsigned int" => "uint",
        "long" => "long",
        "unsigned long" => "ulong",
        "long long" => "long",
        "unsigned long long" => "ulong",
        "short" => "short",
        "unsigned short" => "ushort",
        "signed char" or "char" => "sbyte",
        "unsigned char" => "byte",
        "const char *" => "string",
        _ => null,
    };

    private static string Pointer(string? pointee)
    {
        string target = (pointee ?? "void").Replace("const ", string.Empty).Trim();
        string element = target switch
        {
            "__u8" or "unsigned char" or "char" => "byte",
            "__s8" or "signed char" => "sbyte",
            "__u16" or "unsigned short" => "ushort",
            "__s16" or "short" => "short",
            "__u32" or "unsigned int" => "uint",
            "__s32" or "int" => "int",
            "__u64" or "unsigned long long" => "ulong",
            "__s64" or "long long" => "long",
            _ => "void",
        };
        return element + "*";
    }
}
