namespace Abi.Engine.Iommufd;

/// <summary>
/// The areas of an <see cref="IoPagetable"/> from one point up to <c>last</c>, ascending, read
/// without copying. A range is read before the table changes: an insert or remove while enumerating
/// moves what the enumerator sees.
/// </summary>
internal readonly ref struct AreaRange
{
    private readonly List<Area> _areas;
    private readonly int _first;
    private readonly ulong _last;

    internal AreaRange(List<Area> areas, int first, ulong last)
    {
        _areas = areas;
        _first = first;
        _last = last;
    }

    public Enumerator GetEnumerator() => new(_areas, _first, _last);

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

    public ref struct Enumerator
    {
        private readonly List<Area> _areas;
        private readonly ulong _last;
        private int _index;

        internal Enumerator(List<Area> areas, int first, ulong last)
        {
            _areas = areas;
            _last = last;
            _index = first - 1;
        }

        public readonly Area Current => _areas[_index];

        public bool MoveNext() => ++_index < _areas.Count && _areas[_index].Iova <= _last;
    }
}
