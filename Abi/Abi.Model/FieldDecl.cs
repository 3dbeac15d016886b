namespace Abi.Model;

/// <summary>One field of a record, with its position as the compiler computes it.</summary>
public sealed record FieldDecl
{
    /// <summary>The C member name.</summary>
    public required string Name { get; init; }

    /// <summary>The byte offset from the start of the outermost named record.</summary>
    public required int Offset { get; init; }

    /// <summary>The size in bytes; 0 for a flexible array member; the storage size for a bitfield.</summary>
    public required int Size { get; init; }

    /// <summary>The field's type.</summary>
    public required TypeRef Type { get; init; }

    /// <summary>For a bitfield: the bit offset from the start of the outermost named record.</summary>
    public int? BitOffset { get; init; }

    /// <summary>For a bitfield: its width in bits.</summary>
    public int? BitWidth { get; init; }

    /// <summary>
    /// Whether the field carries an explicit alignment attribute (<c>__aligned_u64</c>). The layout
    /// already reflects it; this only records why an offset is what it is.
    /// </summary>
    public bool IsAligned { get; init; }

    /// <summary>
    /// For a member of an anonymous union or struct: a path naming the anonymous containers from the
    /// outside in, e.g. <c>union@8</c> (kind and offset of each). Members that share it overlap
    /// (union) or follow each other (struct).
    /// </summary>
    public string? Anonymous { get; init; }

    /// <summary>The field's documentation: its kernel-doc <c>@name:</c> entry or trailing comment.</summary>
    public string? Doc { get; init; }
}
