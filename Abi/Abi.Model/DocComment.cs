namespace Abi.Model;

/// <summary>A kernel-doc comment reduced to text: the one-line summary and the free text after the parameter list.</summary>
public sealed record DocComment
{
    /// <summary>The text after <c>struct name -</c> (or the first line).</summary>
    public required string Summary { get; init; }

    /// <summary>The description paragraphs, joined by blank lines; null if there are none.</summary>
    public string? Description { get; init; }
}
