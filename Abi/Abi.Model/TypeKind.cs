namespace Abi.Model;

/// <summary>The kind of a field's type, after array dimensions are stripped.</summary>
public enum TypeKind
{
    /// <summary><c>_Bool</c>.</summary>
    Bool,

    /// <summary>Plain <c>char</c> (signedness is the target's).</summary>
    Char,

    /// <summary>A signed 8-bit integer.</summary>
    Int8,

    /// <summary>An unsigned 8-bit integer.</summary>
    UInt8,

    /// <summary>A signed 16-bit integer.</summary>
    Int16,

    /// <summary>An unsigned 16-bit integer.</summary>
    UInt16,

    /// <summary>A signed 32-bit integer.</summary>
    Int32,

    /// <summary>An unsigned 32-bit integer.</summary>
    UInt32,

    /// <summary>A signed 64-bit integer.</summary>
    Int64,

    /// <summary>An unsigned 64-bit integer.</summary>
    UInt64,

    /// <summary><c>float</c>.</summary>
    Float,

    /// <summary><c>double</c>.</summary>
    Double,

    /// <summary>A data pointer; <see cref="TypeRef.Pointee"/> names what it points to.</summary>
    Pointer,

    /// <summary>A named struct or union; <see cref="TypeRef.Name"/> names it.</summary>
    Record,

    /// <summary>A named enum; <see cref="TypeRef.Name"/> names it and <see cref="TypeRef.EnumBase"/> its integer type.</summary>
    Enum,
}
