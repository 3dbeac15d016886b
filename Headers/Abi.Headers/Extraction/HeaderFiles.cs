namespace Abi.Headers.Extraction;

/// <summary>
/// The requested headers resolved against the include directories; the way back from a path to an
/// include name; which files' declarations are emitted.
/// </summary>
internal sealed class HeaderFiles
{
    private readonly Dictionary<string, string> _nameByPath;
    private readonly HashSet<string> _emitted;
    private readonly IReadOnlyList<string> _includeDirectories;

    private HeaderFiles(Dictionary<string, string> nameByPath, HashSet<string> emitted, IReadOnlyList<string> includeDirectories)
    {
        _nameByPath = nameByPath;
        _emitted = emitted;
        _includeDirectories = includeDirectories;
    }

    /// <summary>Include name to absolute path, in request order.</summary>
    public IReadOnlyDictionary<string, string> PathByName => _nameByPath.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    public static HeaderFiles Resolve(IReadOnlyList<string> headers, IReadOnlyList<string> includeDirectories, IReadOnlyList<string>? emitFrom = null)
    {
        if (headers.Count == 0)
        {
            throw new ExtractionException("no header given");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string header in headers)
        {
            map[Find(header, includeDirectories)] = header;
        }

        var emitted = new HashSet<string>(map.Keys, StringComparer.Ordinal);
        foreach (string header in emitFrom ?? [])
        {
            emitted.Add(Find(header, includeDirectories));
        }

        return new HeaderFiles(map, emitted, includeDirectories);
    }

    private static string Find(string header, IReadOnlyList<string> includeDirectories) =>
        includeDirectories.Select(dir => Path.GetFullPath(Path.Combine(dir, header))).FirstOrDefault(File.Exists)
        ?? throw new ExtractionException($"header not found: {header} (searched {string.Join(", ", includeDirectories)})");

    /// <summary>The include name of <paramref name="path"/> if it is one of the requested headers.</summary>
    public string? IncludeNameOf(string path) =>
        path.Length > 0 && _nameByPath.TryGetValue(Path.GetFullPath(path), out string? name) ? name : null;

    /// <summary>Whether the top-level declarations of <paramref name="path"/> are emitted.</summary>
    public bool IsEmitted(string path) => path.Length > 0 && _emitted.Contains(Path.GetFullPath(path));

    /// <summary>
    /// How a C file would name <paramref name="path"/>: relative to the first include directory
    /// holding it (<c>asm/kvm.h</c>), else its file name. Models never carry a machine's paths.
    /// </summary>
    public string DisplayNameOf(string path)
    {
        if (path.Length == 0)
        {
            return "<built-in>";
        }

        if (IncludeNameOf(path) is string name)
        {
            return name;
        }

        string full = Path.GetFullPath(path);
        foreach (string dir in _includeDirectories)
        {
            string root = Path.GetFullPath(dir).TrimEnd('/') + "/";
            if (full.StartsWith(root, StringComparison.Ordinal))
            {
                return full[root.Length..];
            }
        }

        // System headers: relative to the usual roots, so that the model stays machine-independent.
        foreach (string root in new[] { "/usr/include/", "/usr/local/include/" })
        {
            if (full.StartsWith(root, StringComparison.Ordinal))
            {
                string rest = full[root.Length..];
                int slash = rest.IndexOf('/', StringComparison.Ordinal);
                return slash > 0 && rest[..slash].Contains("-linux-", StringComparison.Ordinal) ? rest[(slash + 1)..] : rest;
            }
        }

        return Path.GetFileName(full);
    }

    /// <summary>The text of a requested header.</summary>
    public string ReadText(string includeName) =>
        File.ReadAllText(_nameByPath.First(kv => kv.Value == includeName).Key);
}
