namespace Abi.Headers.Packages;

/// <summary>
/// Where downloaded packages and extracted headers live: <c>$ABI_CACHE</c>, else
/// <c>$XDG_CACHE_HOME/abi</c>, else <c>~/.cache/abi</c>. Never inside the source tree, never
/// installed system-wide.
/// </summary>
public sealed class HeaderCache
{
    public HeaderCache(string root) => Root = Path.GetFullPath(root);

    public string Root { get; }

    public string DebDirectory => Path.Combine(Root, "debs");

    public string AptDirectory => Path.Combine(Root, "apt");

    public static HeaderCache Default()
    {
        string? explicitRoot = Environment.GetEnvironmentVariable("ABI_CACHE");
        if (!string.IsNullOrEmpty(explicitRoot))
        {
            return new HeaderCache(explicitRoot);
        }

        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseDir = !string.IsNullOrEmpty(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return new HeaderCache(Path.Combine(baseDir, "abi"));
    }

    /// <summary>The directory a package version is extracted into; its <c>usr/include</c> is the include root.</summary>
    public string HeaderDirectory(string version) => Path.Combine(Root, "headers", $"{HeaderProfile.PackageName}_{version}");
}
