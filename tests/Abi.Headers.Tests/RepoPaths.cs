namespace Abi.Headers.Tests;

/// <summary>Paths inside the repository the tests run from.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Models => Path.Combine(Root, "Abi", "Models");

    public static string Expected => Path.Combine(AppContext.BaseDirectory, "Expected");

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Abi.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Abi.sln not found above " + AppContext.BaseDirectory);
    }
}
