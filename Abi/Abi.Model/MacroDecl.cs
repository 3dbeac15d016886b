namespace Abi.Model;

/// <summary>A <c>#define</c>, evaluated by clang where it is a constant.</summary>
public sealed record MacroDecl
{
    /// <summary>The macro name.</summary>
    public required string Name { get; init; }

    /// <summary>Where it is defined, as <c>linux/vfio.h:123</c>.</summary>
    public required string Location { get; init; }

    /// <summary>What it evaluated to.</summary>
    public required MacroKind Kind { get; init; }

    /// <summary>The body tokens joined by single spaces.</summary>
    public required string Body { get; init; }

    /// <summary>For integers: the C type of the expression (<c>unsigned int</c>, <c>int</c>, <c>unsigned long long</c>).</summary>
    public string? CType { get; init; }

    /// <summary>For integers: whether <see cref="CType"/> is signed.</summary>
    public bool? IsSigned { get; init; }

    /// <summary>For integers: the value in decimal, exact; for strings: the string's contents.</summary>
    public string? Value { get; init; }

    /// <summary>For function-like macros: the parameter names.</summary>
    public EquatableArray<string> Parameters { get; init; } = EquatableArray<string>.Empty;
}
