namespace Abi.Headers.Packages;

/// <summary>Where a fetch found its package.</summary>
public enum FetchOrigin
{
    /// <summary>Already extracted in the cache; nothing was read or downloaded.</summary>
    Cache,

    /// <summary>A verified .deb in a local package folder or the cache's package folder.</summary>
    LocalPackage,

    /// <summary>Downloaded from Debian.</summary>
    Download,
}

/// <summary>Headers ready to parse: the include root and the package they came from.</summary>
public sealed record FetchedHeaders(string Directory, string Suite, string Version, string Sha256, FetchOrigin Origin)
{
    /// <summary>The include directory holding <c>linux/</c>.</summary>
    public string IncludeDirectory => Path.Combine(Directory, "usr", "include");

    /// <summary>The include directories for a target triplet (the arch <c>asm/</c> headers live under the triplet).</summary>
    public IReadOnlyList<string> IncludeDirectories(string triplet) =>
        [IncludeDirectory, Path.Combine(IncludeDirectory, triplet)];
}
