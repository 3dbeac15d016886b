namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// Object ids of one context: the lowest free id from 1 up (0 is never an id), reused after
/// destroy, as the kernel's xarray allocation does.
/// </summary>
internal sealed class ObjectTable
{
    private readonly List<IommufdObject?> _slots = [null];
    private int _lowestFree = 1;

    public int Count { get; private set; }

    public uint Add(IommufdObject value)
    {
        int id = _lowestFree;
        if (id == _slots.Count)
        {
            _slots.Add(value);
        }
        else
        {
            _slots[id] = value;
        }

        value.Id = (uint)id;
        Count++;
        _lowestFree = id + 1;
        while (_lowestFree < _slots.Count && _slots[_lowestFree] is not null)
        {
            _lowestFree++;
        }

        return (uint)id;
    }

    public IommufdObject? Get(uint id) => id < (uint)_slots.Count ? _slots[(int)id] : null;

    /// <summary>The object if it exists and is of <paramref name="kind"/>; otherwise null (the caller answers ENOENT).</summary>
    public T? Get<T>(uint id, ObjectKind kind)
        where T : IommufdObject => Get(id) is T value && value.Kind == kind ? value : null;

    public void Remove(uint id)
    {
        _slots[(int)id] = null;
        Count--;
        _lowestFree = Math.Min(_lowestFree, (int)id);
    }

    /// <summary>Every live object, by id.</summary>
    public IEnumerable<IommufdObject> All()
    {
        foreach (IommufdObject? value in _slots)
        {
            if (value is not null)
            {
                yield return value;
            }
        }
    }
}
