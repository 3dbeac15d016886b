namespace Abi.Engine.Iommufd;

/// <summary>
/// The areas of an <see cref="IoPagetable"/> from one point up to <c>last</c>, ascending, read
/// without copying. A range is read before the table changes: an insert or remove while
/// enumerating moves what the enumerator sees.
/// </summary>
internal readonly struct AreaRange
{
    private readonly AreaTree.Position _first;
    private readonly ulong _last;

    internal AreaRange(AreaTree.Position first, ulong last)
    {
        _first = first;
        _last = last;
    }

    public AreaTree.Enumerator GetEnumerator() => new(_first, _last);

    /// <summary>Whether any area of the range satisfies <paramref name="match"/>.</summary>
    public bool Any(Func<Area, bool> match)
    {
        foreach (Area area in this)
        {
            if (match(area))
            {
                return true;
            }
        }

        return false;
    }
}
