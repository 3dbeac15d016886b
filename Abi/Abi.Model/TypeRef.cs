namespace Abi.Model;

/// <summary>A field type: an element type and optional array dimensions.</summary>
public sealed record TypeRef
{
    /// <summary>The type as written in the header (<c>__u32</c>, <c>struct vfio_info_cap_header</c>, <c>__u8[]</c>).</summary>
    public required string Spelling { get; init; }

    /// <summary>The element kind.</summary>
    public required TypeKind Kind { get; init; }

    /// <summary>The size of one element, in bytes.</summary>
    public required int ElementSize { get; init; }

    /// <summary>For records and enums: the tag name.</summary>
    public string? Name { get; init; }

    /// <summary>For pointers: the pointee as written.</summary>
    public string? Pointee { get; init; }

    /// <summary>For enums: the kind of the underlying integer.</summary>
    public TypeKind? EnumBase { get; init; }

    /// <summary>Fixed array dimensions, outermost first; empty when the field is not a fixed array.</summary>
    public EquatableArray<int> ArrayLengths { get; init; } = EquatableArray<int>.Empty;

    /// <summary>Whether this is a flexible array member (<c>T name[]</c>); inner dimensions, if any, are in <see cref="ArrayLengths"/>.</summary>
    public bool IsFlexibleArray { get; init; }
}
