namespace Abi.Linux.Tests;

internal static class Repo
{
    public static string Root => Abi.Tests.RepoRoot.Path;
}
