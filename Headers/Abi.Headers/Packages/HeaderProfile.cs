namespace Abi.Headers.Packages;

/// <summary>
/// A kernel ABI profile: which Debian <c>linux-libc-dev</c> the headers come from. Versions are
/// pinned by sha256; Debian rotates versions out of its suites, and a newer one is taken only when
/// asked (<c>--allow-newer</c>).
/// </summary>
public sealed record HeaderProfile(string Name, string Suite, string Version, string Sha256)
{
    public const string PackageName = "linux-libc-dev";

    /// <summary>The default profile: sid's 7.2 headers.</summary>
    public static HeaderProfile Default => Linux72;

    public static HeaderProfile Linux72 { get; } =
        new("7.2", "sid", "7.2.13-1", "8b33c2a408bbab537e753102dce181dc211007f64c1e2516065bc677f60d5d99");

    /// <summary>The previous stable ABI, trixie's 6.12.</summary>
    public static HeaderProfile Linux612 { get; } =
        new("6.12", "trixie", "6.12.107-1", "dc68dd53c7356598d005866da0d19d7bd33af2a62971aced624cdf04492902b4");

    public static IReadOnlyList<HeaderProfile> All { get; } = [Linux72, Linux612];

    public string DebFileName => $"{PackageName}_{Version}_all.deb";

    /// <summary>Looks a profile up by name (<c>7.2</c>) or suite (<c>sid</c>).</summary>
    /// <exception cref="ArgumentException">No such profile; the message lists the known ones.</exception>
    public static HeaderProfile Find(string name) =>
        All.FirstOrDefault(p => p.Name == name || p.Suite == name)
        ?? throw new ArgumentException($"unknown profile '{name}'; known profiles: {string.Join(", ", All.Select(p => $"{p.Name} ({p.Suite} {p.Version})"))}", nameof(name));
}
