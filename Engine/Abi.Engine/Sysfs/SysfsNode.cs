namespace Abi.Engine.Sysfs;

/// <summary>A node of the engine's sysfs view: a directory, an attribute file or a symbolic link (kernfs's three kinds).</summary>
internal abstract class SysfsNode
{
    /// <summary>A stable inode number for getdents64 and stat.</summary>
    public ulong Inode { get; set; }
}

/// <summary>A directory: its entries by name, in the order they were added.</summary>
internal sealed class SysfsDirectory : SysfsNode
{
    private readonly List<(string Name, SysfsNode Node)> _entries = [];

    public IReadOnlyList<(string Name, SysfsNode Node)> Entries => _entries;

    public SysfsNode? this[string name]
    {
        get
        {
            foreach ((string entry, SysfsNode node) in _entries)
            {
                if (entry == name)
                {
                    return node;
                }
            }

            return null;
        }
    }

    /// <summary>The subdirectory <paramref name="name"/>, made if missing.</summary>
    public SysfsDirectory Directory(string name)
    {
        if (this[name] is SysfsDirectory existing)
        {
            return existing;
        }

        var directory = new SysfsDirectory();
        _entries.Add((name, directory));
        return directory;
    }

    public void Add(string name, SysfsNode node) => _entries.Add((name, node));
}

/// <summary>
/// An attribute: its show (the text a read from offset 0 produces) and its store, which gets the
/// written text up to its first NUL, as a C string, and the count written (a few stores check it).
/// An attribute without a show method (0200: bind, unbind) cannot be opened for reading, one without
/// a store method (0444) not for writing: EACCES.
/// </summary>
internal sealed class SysfsAttribute(Func<string>? read, Func<string, int, int>? write = null) : SysfsNode
{
    public bool Readable => read is not null;

    public string Read() => read?.Invoke() ?? string.Empty;

    public Func<string, int, int>? Write => write;
}

/// <summary>A symbolic link, its target as the kernel stores it (relative, as sysfs links are).</summary>
internal sealed class SysfsLink(string target) : SysfsNode
{
    public string Target { get; } = target;
}
