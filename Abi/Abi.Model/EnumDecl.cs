namespace Abi.Model;

/// <summary>A C enum, named or anonymous.</summary>
public sealed record EnumDecl
{
    /// <summary>The tag name, or null for an anonymous enum (whose constants are plain constants).</summary>
    public string? Name { get; init; }

    /// <summary>Where it is declared, as <c>linux/iommufd.h:37</c>.</summary>
    public required string Location { get; init; }

    /// <summary>The integer type the compiler chose for the enum.</summary>
    public required TypeKind UnderlyingType { get; init; }

    /// <summary>The enumerators in declaration order.</summary>
    public required EquatableArray<EnumConstant> Constants { get; init; }

    /// <summary>The kernel-doc of the enum, if any.</summary>
    public DocComment? Doc { get; init; }
}
