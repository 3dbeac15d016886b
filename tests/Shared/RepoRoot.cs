namespace Abi.Tests;

/// <summary>The repository the tests run from (the folder holding Abi.sln), found from the test binaries upwards.</summary>
internal static class RepoRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
        {
            if (File.Exists(System.IO.Path.Combine(dir, "Abi.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Abi.sln not found above " + AppContext.BaseDirectory);
    }
}
