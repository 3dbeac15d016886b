using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>What to extract: which headers, found where, for which target and profile.</summary>
public sealed record ExtractionOptions
{
    /// <summary>The headers to describe, as include names (<c>linux/vfio.h</c>).</summary>
    public required IReadOnlyList<string> Headers { get; init; }

    /// <summary>Include directories, searched in order (<c>-I</c>), before anything else.</summary>
    public required IReadOnlyList<string> IncludeDirectories { get; init; }

    /// <summary>
    /// Headers included before <see cref="Headers"/>, as a C file using them would: Linux UAPI
    /// headers that use <c>_IOR</c> without including <c>&lt;linux/ioctl.h&gt;</c> rely on it.
    /// Their own declarations are not emitted; one that is not on the include path is left out.
    /// </summary>
    public IReadOnlyList<string> Prelude { get; init; } = DefaultPrelude;

    /// <summary>What a C file using a Linux UAPI header has included before it.</summary>
    public static IReadOnlyList<string> DefaultPrelude { get; } = ["linux/types.h", "linux/ioctl.h"];

    /// <summary>Preprocessor definitions, as <c>NAME</c> or <c>NAME=VALUE</c>.</summary>
    public IReadOnlyList<string> Defines { get; init; } = [];

    /// <summary>
    /// Whether the C library's and the compiler's headers (<c>&lt;stdint.h&gt;</c>, <c>&lt;sys/time.h&gt;</c>)
    /// are searched after <see cref="IncludeDirectories"/>. Off, nothing else is searched (<c>-nostdinc</c>).
    /// </summary>
    public bool SystemIncludes { get; init; }

    /// <summary>
    /// Further headers (include names) whose top-level declarations are emitted too. Types the
    /// emitted declarations use are always emitted, wherever they are declared.
    /// </summary>
    public IReadOnlyList<string> EmitFrom { get; init; } = [];

    /// <summary>The clang target triple.</summary>
    public string Target { get; init; } = "x86_64-linux-gnu";

    /// <summary>The profile name written into the model.</summary>
    public required string Profile { get; init; }

    /// <summary>Where the headers came from, written into the model.</summary>
    public required HeaderSource Source { get; init; }

    /// <summary>The ioctl facts that the headers cannot state; the built-in iommufd/VFIO table always applies under them.</summary>
    public IoctlOverrides? Overrides { get; init; }
}
