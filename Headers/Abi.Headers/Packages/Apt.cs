namespace Abi.Headers.Packages;

/// <summary>apt-get and apt-cache run against a private sources list and package lists.</summary>
internal sealed class Apt
{
    private readonly string _root;
    private readonly string _sourcesFile;
    private readonly Action<string> _log;

    public Apt(string root, string sourcesFile, Action<string> log)
    {
        _root = root;
        _sourcesFile = sourcesFile;
        _log = log;
    }

    private string[] Options =>
    [
        "-o", $"Dir::Etc::SourceList={_sourcesFile}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", $"Dir::State::Lists={Path.Combine(_root, "lists")}",
        "-o", $"Dir::Cache={Path.Combine(_root, "cache")}",
        "-o", "Debug::NoLocking=1",
    ];

    public void Update()
    {
        _log("updating the private apt lists (sid, trixie)...");
        HeaderFetcher.Run("apt-get", [.. Options, "-q", "update"], workingDirectory: null);
    }

    /// <summary>The versions of linux-libc-dev that <paramref name="suite"/> serves, newest first.</summary>
    public IReadOnlyList<string> ServedVersions(string suite)
    {
        string madison = HeaderFetcher.Run("apt-cache", [.. Options, "madison", HeaderProfile.PackageName], workingDirectory: null);

        // Lines look like: "linux-libc-dev | 7.2.13-1 | http://deb.debian.org/debian sid/main all Packages"
        return madison.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('|', StringSplitOptions.TrimEntries))
            .Where(cols => cols.Length >= 3 && cols[2].Contains($" {suite}/", StringComparison.Ordinal))
            .Select(cols => cols[1])
            .Distinct()
            .ToList();
    }

    public string Download(string version, string directory)
    {
        Directory.CreateDirectory(directory);
        _log($"downloading {HeaderProfile.PackageName} {version}...");
        HeaderFetcher.Run("apt-get", [.. Options, "-q", "download", $"{HeaderProfile.PackageName}={version}"], directory);
        string path = Path.Combine(directory, $"{HeaderProfile.PackageName}_{version.Replace(":", "%3a", StringComparison.Ordinal)}_all.deb");
        return File.Exists(path)
            ? path
            : throw new HeaderFetchException($"apt-get download reported success but {path} is missing");
    }
}
