namespace Abi.Linux.Tests;

internal static class Repo
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Abi.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Abi.sln not found");
    }
}
