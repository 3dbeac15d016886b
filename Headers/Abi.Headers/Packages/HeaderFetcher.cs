using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Abi.Headers.Packages;

/// <summary>
/// Obtains a profile's <c>linux-libc-dev</c> and extracts it into the cache. Packages are looked
/// for, in order, in the cache, in local package folders (<c>$ABI_LOCAL_DEBS</c>, colon-separated),
/// and then downloaded from Debian with a private apt configuration (its own sources list and
/// package lists under the cache) that never reads or changes the system's sources. Every .deb is
/// checked against the profile's sha256 before use. A second run finds the extracted headers and
/// downloads nothing.
/// </summary>
public sealed partial class HeaderFetcher
{
    private const string CompleteMarker = ".abi-complete";

    private readonly HeaderCache _cache;
    private readonly Action<string> _log;

    public HeaderFetcher(HeaderCache cache, Action<string> log)
    {
        _cache = cache;
        _log = log;
    }

    /// <summary>Local folders searched for pinned .debs before downloading.</summary>
    public IReadOnlyList<string> LocalPackageDirectories { get; init; } =
        (Environment.GetEnvironmentVariable("ABI_LOCAL_DEBS") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Makes the profile's headers available and returns where they are.</summary>
    /// <param name="profile">The profile to fetch.</param>
    /// <param name="allowNewer">When the pinned version is no longer served, take the newest version of the profile's suite instead of failing.</param>
    /// <exception cref="HeaderFetchException">The package cannot be had or does not verify.</exception>
    public FetchedHeaders Fetch(HeaderProfile profile, bool allowNewer = false)
    {
        if (ReadMarker(profile.Version) is string sha && sha == profile.Sha256)
        {
            return new FetchedHeaders(_cache.HeaderDirectory(profile.Version), profile.Suite, profile.Version, sha, FetchOrigin.Cache);
        }

        string? deb = FindVerifiedDeb(profile);
        FetchOrigin origin = FetchOrigin.LocalPackage;
        string version = profile.Version;
        string expectedSha = profile.Sha256;
        if (deb is null)
        {
            Apt apt = PrepareApt();
            IReadOnlyList<string> served = apt.ServedVersions(profile.Suite);
            if (!served.Contains(version))
            {
                string newest = served.Count > 0 ? served[0] : "none";
                if (!allowNewer || served.Count == 0)
                {
                    throw new HeaderFetchException(
                        $"{HeaderProfile.PackageName} {version} is no longer served by Debian {profile.Suite} (newest there: {newest}); " +
                        "rerun with --allow-newer to use the newest version of that suite");
                }

                _log($"note: {HeaderProfile.PackageName} {version} is no longer served by Debian {profile.Suite}; using {newest} (--allow-newer), which is not pinned by sha256");
                version = newest;
                expectedSha = string.Empty;
                if (ReadMarker(version) is string newerSha)
                {
                    return new FetchedHeaders(_cache.HeaderDirectory(version), profile.Suite, version, newerSha, FetchOrigin.Cache);
                }
            }

            deb = apt.Download(version, _cache.DebDirectory);
            origin = FetchOrigin.Download;
        }

        string actualSha = Sha256Of(deb);
        if (expectedSha.Length > 0 && actualSha != expectedSha)
        {
            File.Delete(deb);
            throw new HeaderFetchException($"{Path.GetFileName(deb)} has sha256 {actualSha}, expected {expectedSha}; the download was deleted");
        }

        // Keep the verified package in the cache, so the cache alone can rebuild the headers.
        // A cached copy that does not verify (truncated, corrupted) is replaced, through a temporary file so no reader sees half of it.
        string cached = Path.Combine(_cache.DebDirectory, Path.GetFileName(deb));
        if (!File.Exists(cached) || (Path.GetFullPath(cached) != Path.GetFullPath(deb) && Sha256Of(cached) != actualSha))
        {
            Directory.CreateDirectory(_cache.DebDirectory);
            string partial = cached + ".partial";
            File.Copy(deb, partial, overwrite: true);
            File.Move(partial, cached, overwrite: true);
        }

        string target = _cache.HeaderDirectory(version);
        Extract(deb, target, actualSha);
        _log($"{HeaderProfile.PackageName} {version} ({profile.Suite}) extracted to {target}");
        return new FetchedHeaders(target, profile.Suite, version, actualSha, origin);
    }

    /// <summary>The sha256 of a file, lower-case hex.</summary>
    public static string Sha256Of(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private string? ReadMarker(string version)
    {
        string marker = Path.Combine(_cache.HeaderDirectory(version), CompleteMarker);
        return File.Exists(marker) ? File.ReadAllText(marker).Trim() : null;
    }

    private string? FindVerifiedDeb(HeaderProfile profile)
    {
        IEnumerable<string> candidates = new[] { _cache.DebDirectory }
            .Concat(LocalPackageDirectories)
            .Select(dir => Path.Combine(dir, profile.DebFileName))
            .Where(File.Exists);
        foreach (string candidate in candidates)
        {
            if (Sha256Of(candidate) == profile.Sha256)
            {
                return candidate;
            }

            _log($"note: ignoring {candidate}: its sha256 does not match the pinned one");
        }

        return null;
    }

    private static void Extract(string deb, string target, string sha)
    {
        string staging = target + ".partial";
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        Run("dpkg-deb", ["-x", deb, staging], workingDirectory: null);
        if (!File.Exists(Path.Combine(staging, "usr", "include", "linux", "types.h")))
        {
            throw new HeaderFetchException($"{Path.GetFileName(deb)} does not contain usr/include/linux/types.h; is it a linux-libc-dev package?");
        }

        File.WriteAllText(Path.Combine(staging, CompleteMarker), sha + "\n");
        if (Directory.Exists(target))
        {
            Directory.Delete(target, recursive: true);
        }

        Directory.Move(staging, target);
    }

    private Apt PrepareApt()
    {
        string root = _cache.AptDirectory;
        Directory.CreateDirectory(Path.Combine(root, "lists", "partial"));
        Directory.CreateDirectory(Path.Combine(root, "cache", "archives", "partial"));
        string mirror = SystemMirror();
        string sources = string.Join('\n', HeaderProfile.All.Select(p => p.Suite).Distinct().Select(s => $"deb {mirror} {s} main")) + "\n";
        string sourcesFile = Path.Combine(root, "sources.list");
        File.WriteAllText(sourcesFile, sources);
        var apt = new Apt(root, sourcesFile, _log);
        apt.Update();
        return apt;
    }

    /// <summary>The Debian mirror the system already uses, so that the private config reaches the same host.</summary>
    private static string SystemMirror()
    {
        const string fallback = "http://deb.debian.org/debian";
        string deb822 = "/etc/apt/sources.list.d/debian.sources";
        if (File.Exists(deb822))
        {
            Match m = Deb822Uri().Match(File.ReadAllText(deb822));
            if (m.Success)
            {
                return m.Groups[1].Value.TrimEnd('/');
            }
        }

        string legacy = "/etc/apt/sources.list";
        if (File.Exists(legacy))
        {
            Match m = LegacyUri().Match(File.ReadAllText(legacy));
            if (m.Success)
            {
                return m.Groups[1].Value.TrimEnd('/');
            }
        }

        return fallback;
    }

    internal static string Run(string file, IReadOnlyList<string> arguments, string? workingDirectory)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["LC_ALL"] = "C";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new HeaderFetchException($"could not start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new HeaderFetchException($"could not run {file}: {e.Message}", e);
        }

        using (process)
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string last = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "no message";
                throw new HeaderFetchException($"{file} {string.Join(' ', arguments.Take(1))} failed with exit code {process.ExitCode}: {last.Trim()}");
            }

            return stdout;
        }
    }

    [GeneratedRegex(@"(?m)^URIs:\s*(\S+)")]
    private static partial Regex Deb822Uri();

    [GeneratedRegex(@"(?m)^deb\s+(?:\[[^\]]*\]\s+)?(\S+)")]
    private static partial Regex LegacyUri();
}
