namespace Abi.Model;

/// <summary>One enumerator.</summary>
public sealed record EnumConstant
{
    /// <summary>The C name.</summary>
    public required string Name { get; init; }

    /// <summary>The value in decimal, exact (negative for signed enums).</summary>
    public required string Value { get; init; }

    /// <summary>Its kernel-doc entry or trailing comment.</summary>
    public string? Doc { get; init; }
}
