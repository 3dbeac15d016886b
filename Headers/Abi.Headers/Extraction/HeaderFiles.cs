namespace Abi.Headers.Extraction;

/// <summary>The requested headers resolved against the include directories, and the way back from a path to an include name.</summary>
internal sealed class HeaderFiles
{
    private readonly Dictionary<string, string> _nameByPath;

    private HeaderFiles(Dictionary<string, string> nameByPath) => _nameByPath = nameByPath;

    /// <summary>Include name to absolute path, in request order.</summary>
    public IReadOnlyDictionary<string, string> PathByName => _nameByPath.ToDictionary(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal);

    public static HeaderFiles Resolve(IReadOnlyList<string> headers, IReadOnlyList<string> includeDirectories)
    {
        if (headers.Count == 0)
        {
            throw new ExtractionException("no header given");
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string header in headers)
        {
            string? found = includeDirectories
                .Select(dir => Path.GetFullPath(Path.Combine(dir, header)))
                .FirstOrDefault(File.Exists);
            if (found is null)
            {
                throw new ExtractionException($"header not found: {header} (searched {string.Join(", ", includeDirectories)})");
            }

            map[found] = header;
        }

        return new HeaderFiles(map);
    }

    /// <summary>The include name of <paramref name="path"/> if it is one of the requested headers.</summary>
    public string? IncludeNameOf(string path) =>
        path.Length > 0 && _nameByPath.TryGetValue(Path.GetFullPath(path), out string? name) ? name : null;

    /// <summary>The text of a requested header.</summary>
    public string ReadText(string includeName) =>
        File.ReadAllText(_nameByPath.First(kv => kv.Value == includeName).Key);
}
