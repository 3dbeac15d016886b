using Abi.Headers.Extraction;
using Abi.Headers.Packages;
using Abi.Model;

[assembly: AssemblyFixture(typeof(Abi.Headers.Tests.LinuxHeadersFixture))]

namespace Abi.Headers.Tests;

/// <summary>
/// The real headers of both profiles, fetched once (from the cache the setup command filled) and
/// extracted once with the real libclang, shared by every test.
/// </summary>
public sealed class LinuxHeadersFixture
{
    public LinuxHeadersFixture()
    {
        var fetcher = new HeaderFetcher(HeaderCache.Default(), _ => { });
        foreach (HeaderProfile profile in HeaderProfile.All)
        {
            FetchedHeaders headers = fetcher.Fetch(profile);
            Headers[profile.Name] = headers;
            Models[profile.Name] = Extract(profile, headers, "x86_64-linux-gnu");
        }
    }

    public Dictionary<string, FetchedHeaders> Headers { get; } = [];

    public Dictionary<string, AbiModel> Models { get; } = [];

    public AbiModel Linux72 => Models["7.2"];

    public AbiModel Linux612 => Models["6.12"];

    public static IEnumerable<string> ProfileNames => HeaderProfile.All.Select(p => p.Name);

    public static ExtractionOptions Options(HeaderProfile profile, FetchedHeaders headers, string target) => new()
    {
        Headers = LinuxHeaderSet.Headers,
        IncludeDirectories = headers.IncludeDirectories(LinuxHeaderSet.TripletOf(target)),
        Target = target,
        Profile = profile.Name,
        Source = new HeaderSource { Package = HeaderProfile.PackageName, Version = headers.Version, Suite = headers.Suite, Sha256 = headers.Sha256 },
    };

    public static AbiModel Extract(HeaderProfile profile, FetchedHeaders headers, string target)
    {
        using var extractor = new HeaderExtractor(Options(profile, headers, target));
        return extractor.Extract();
    }
}
