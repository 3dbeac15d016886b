using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>What to extract: which headers, found where, for which target and profile.</summary>
public sealed record ExtractionOptions
{
    /// <summary>The headers to describe, as include names (<c>linux/vfio.h</c>).</summary>
    public required IReadOnlyList<string> Headers { get; init; }

    /// <summary>Include directories, searched in order. Nothing else is searched (<c>-nostdinc</c>).</summary>
    public required IReadOnlyList<string> IncludeDirectories { get; init; }

    /// <summary>The clang target triple.</summary>
    public string Target { get; init; } = "x86_64-linux-gnu";

    /// <summary>The profile name written into the model.</summary>
    public required string Profile { get; init; }

    /// <summary>Where the headers came from, written into the model.</summary>
    public required HeaderSource Source { get; init; }

    /// <summary>The ioctl facts that the headers' comments lack; null for the built-in table.</summary>
    public IoctlOverrides? Overrides { get; init; }
}
