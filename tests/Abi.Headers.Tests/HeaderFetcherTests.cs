using Abi.Headers.Packages;

namespace Abi.Headers.Tests;

public sealed class HeaderFetcherTests(LinuxHeadersFixture linux) : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("abi-fetch-");

    public void Dispose() => _scratch.Delete(recursive: true);

    [Fact]
    public void SecondFetch_UsesTheCacheAndDownloadsNothing()
    {
        // Seed a local package folder with the pinned .deb the shared cache already verified.
        string local = Path.Combine(_scratch.FullName, "debs");
        Directory.CreateDirectory(local);
        string seeded = FindDeb(HeaderProfile.Linux612);
        File.Copy(seeded, Path.Combine(local, HeaderProfile.Linux612.DebFileName));

        var log = new List<string>();
        var fetcher = new HeaderFetcher(new HeaderCache(Path.Combine(_scratch.FullName, "cache")), log.Add) { LocalPackageDirectories = [local] };
        FetchedHeaders first = fetcher.Fetch(HeaderProfile.Linux612);
        Assert.Equal(FetchOrigin.LocalPackage, first.Origin);
        Assert.True(File.Exists(Path.Combine(first.IncludeDirectory, "linux", "iommufd.h")));

        FetchedHeaders second = fetcher.Fetch(HeaderProfile.Linux612);
        Assert.Equal(FetchOrigin.Cache, second.Origin);
        Assert.Equal(HeaderProfile.Linux612.Sha256, second.Sha256);
        Assert.Equal(first.Directory, second.Directory);
        Assert.True(File.Exists(Path.Combine(_scratch.FullName, "cache", "debs", HeaderProfile.Linux612.DebFileName)), "the verified package is kept in the cache");
    }

    [Fact]
    public void LocalPackageWithTheWrongHash_IsNotUsed()
    {
        string local = Path.Combine(_scratch.FullName, "debs");
        Directory.CreateDirectory(local);
        File.WriteAllText(Path.Combine(local, HeaderProfile.Linux72.DebFileName), "not the package");
        var log = new List<string>();
        var bogus = HeaderProfile.Linux72 with { Suite = "no-such-suite" };
        var fetcher = new HeaderFetcher(new HeaderCache(Path.Combine(_scratch.FullName, "cache")), log.Add) { LocalPackageDirectories = [local] };

        // Not the cache, not the bad local file: it goes to Debian, which does not serve that suite.
        HeaderFetchException e = Assert.Throws<HeaderFetchException>(() => fetcher.Fetch(bogus));
        Assert.Contains(log, l => l.Contains("its sha256 does not match", StringComparison.Ordinal));
        Assert.Contains("7.2.13-1 is no longer served by Debian no-such-suite", e.Message, StringComparison.Ordinal);
        Assert.Contains("--allow-newer", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FetchedHeaders_AreThePinnedPackages()
    {
        Assert.Equal(HeaderProfile.Linux72.Sha256, linux.Headers["7.2"].Sha256);
        Assert.Equal("7.2.13-1", linux.Linux72.Source.Version);
        Assert.Equal(HeaderProfile.Linux612.Sha256, linux.Linux612.Source.Sha256);
        Assert.Throws<ArgumentException>(() => HeaderProfile.Find("5.10"));
        Assert.Same(HeaderProfile.Linux72, HeaderProfile.Find("sid"));
    }

    /// <summary>The pinned package, from the shared cache (which keeps every package it verified) or a local package folder.</summary>
    private static string FindDeb(HeaderProfile profile) =>
        (Environment.GetEnvironmentVariable("ABI_LOCAL_DEBS") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Prepend(HeaderCache.Default().DebDirectory)
            .Select(d => Path.Combine(d, profile.DebFileName))
            .First(File.Exists);
}
