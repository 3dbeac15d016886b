using System.Xml.Linq;

namespace Abi.Architecture.Tests;

/// <summary>The repository's projects (tests aside) and their ProjectReferences, as paths relative to the repository.</summary>
internal sealed class ProjectGraph
{
    private readonly Dictionary<string, string[]> _references;

    public ProjectGraph(Dictionary<string, string[]> references) => _references = references;

    public IEnumerable<string> Projects => _references.Keys;

    /// <summary>Every project under <paramref name="root"/> except tests, with its direct references.</summary>
    public static ProjectGraph Load(string root)
    {
        var references = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(root, "*.csproj", SearchOption.AllDirectories))
        {
            string relative = Relative(root, file);
            if (relative.StartsWith("tests/", StringComparison.Ordinal) || relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
            {
                continue;
            }

            string directory = Path.GetDirectoryName(file)!;
            references[relative] = XDocument.Load(file).Descendants("ProjectReference")
                .Select(r => Relative(root, Path.GetFullPath(Path.Combine(directory, ((string)r.Attribute("Include")!).Replace('\\', '/')))))
                .ToArray();
        }

        return new ProjectGraph(references);
    }

    /// <summary>Everything <paramref name="project"/> reaches through references, itself excluded.</summary>
    public IReadOnlySet<string> Reach(string project)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(_references.GetValueOrDefault(project, []));
        while (pending.TryPop(out string? next))
        {
            if (seen.Add(next))
            {
                foreach (string further in _references.GetValueOrDefault(next, []))
                {
                    pending.Push(further);
                }
            }
        }

        return seen;
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');
}
