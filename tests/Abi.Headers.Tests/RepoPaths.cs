namespace Abi.Headers.Tests;

/// <summary>Paths inside the repository the tests run from.</summary>
internal static class RepoPaths
{
    public static string Root => Abi.Tests.RepoRoot.Path;

    public static string Models => Path.Combine(Root, "Abi", "Models");

    public static string Expected => Path.Combine(AppContext.BaseDirectory, "Expected");
}
