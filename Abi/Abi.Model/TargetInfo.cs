namespace Abi.Model;

/// <summary>The compilation target a model was extracted for.</summary>
public sealed record TargetInfo
{
    /// <summary>The clang target triple, e.g. <c>x86_64-linux-gnu</c>.</summary>
    public required string Triple { get; init; }

    /// <summary>The size of a pointer in bytes.</summary>
    public required int PointerSize { get; init; }
}
