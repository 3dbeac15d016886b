namespace Abi.Model;

/// <summary>The Debian package a model's headers were taken from.</summary>
public sealed record HeaderSource
{
    /// <summary>The package name, e.g. <c>linux-libc-dev</c>; <c>local</c> for a user's own headers.</summary>
    public required string Package { get; init; }

    /// <summary>The package version, e.g. <c>7.2.13-1</c>.</summary>
    public required string Version { get; init; }

    /// <summary>The Debian suite the version is served from, e.g. <c>sid</c>.</summary>
    public string? Suite { get; init; }

    /// <summary>The sha256 of the .deb, lower-case hex.</summary>
    public string? Sha256 { get; init; }
}
