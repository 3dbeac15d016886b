namespace Abi.Model;

/// <summary>
/// A named C struct or union with its layout as the compiler computes it. Members of anonymous
/// unions and structs are flattened into <see cref="Fields"/> with offsets relative to this
/// record, so overlapping offsets are expected.
/// </summary>
public sealed record RecordDecl
{
    /// <summary>The C tag name, without <c>struct</c>/<c>union</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Struct or union.</summary>
    public required RecordKind Kind { get; init; }

    /// <summary>Where it is declared, as <c>linux/vfio.h:123</c>.</summary>
    public required string Location { get; init; }

    /// <summary><c>sizeof</c>, in bytes (excluding any flexible array member).</summary>
    public required int Size { get; init; }

    /// <summary><c>_Alignof</c>, in bytes.</summary>
    public required int Alignment { get; init; }

    /// <summary>
    /// For a record the C source leaves unnamed (the type of a named member, an array element, or a
    /// typedef): how C reaches the type, usable in <c>sizeof</c> and <c>offsetof</c>
    /// (<c>__typeof__(((struct uffd_msg *)0)-&gt;arg)</c>, <c>my_typedef_t</c>); null for a tagged record.
    /// <see cref="Name"/> is then a synthesised name (see <c>README</c>, "Names").
    /// </summary>
    public string? CType { get; init; }

    /// <summary>Whether the record carries <c>__attribute__((packed))</c>.</summary>
    public bool IsPacked { get; init; }

    /// <summary>The fields in declaration order, anonymous members flattened.</summary>
    public required EquatableArray<FieldDecl> Fields { get; init; }

    /// <summary>The kernel-doc of the record, if any.</summary>
    public DocComment? Doc { get; init; }
}
