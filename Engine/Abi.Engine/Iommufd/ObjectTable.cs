
namespace Abi.Engine.Iommufd;

/// <summary>
/// Object ids of one context: the lowest free id from 1 up (0 is never an id), reused after
/// destroy, as the kernel's xarray allocation does. A tombstone keeps an id taken without an
/// object behind it (a vDEVICE destroyed with its device): lookups miss it and it is never reused.
/// </summary>
internal sealed class ObjectTable
{
    private static readonly IommufdObject s_tombstone = new TombstoneEntry();
    private static readonly IommufdObject s_reserved = new TombstoneEntry();

    private readonly List<IommufdObject?> _slots = [null];
    private IommufdObject?[] _published = [null];
    private bool _changed;
    private int _lowestFree = 1;
    private int _addedInCall;
    private IommufdObject? _lastAdded;

    public int Count { get; private set; }

    /// <summary>No object and no tombstone (xa_empty: a tombstoned id still occupies the xarray).</summary>
    public bool IsEmpty => Count == 0 && !_slots.Contains(s_tombstone);

    /// <summary>Starts counting what an ioctl adds, so a call whose answer cannot be written undoes it.</summary>
    public void BeginCall()
    {
        _addedInCall = 0;
        _lastAdded = null;
    }

    /// <summary>The newest object the current call added, if it added any.</summary>
    public IommufdObject? AddedInCall => _addedInCall > 0 ? _lastAdded : null;

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
        _changed = true;
        Count++;
        _addedInCall++;
        _lastAdded = value;
        _lowestFree = id + 1;
        while (_lowestFree < _slots.Count && _slots[_lowestFree] is not null)
        {
            _lowestFree++;
        }

        return (uint)id;
    }

    public IommufdObject? Get(uint id) => id < (uint)_slots.Count && _slots[(int)id] is { } value && value != s_tombstone && value != s_reserved ? value : null;

    /// <summary>
    /// Takes the lowest free id for an object still being built (iommufd_object_alloc): lookups miss
    /// it until <see cref="Replace"/> finalizes it; <see cref="Release"/> gives it back (iommufd_object_abort).
    /// </summary>
    public uint Reserve()
    {
        uint id = Add(s_reserved);
        Count--;
        _addedInCall--;
        _lastAdded = null;
        return id;
    }

    /// <summary>Gives a reserved id back.</summary>
    public void Release(uint id)
    {
        _changed = true;
        _slots[(int)id] = null;
        _lowestFree = Math.Min(_lowestFree, (int)id);
    }

    /// <summary>The object if it exists and is of <paramref name="kind"/>; otherwise null (the caller answers ENOENT).</summary>
    public T? Get<T>(uint id, ObjectKind kind)
        where T : IommufdObject => Get(id) is T value && value.Kind == kind ? value : null;

    public void Remove(uint id)
    {
        _changed = true;
        _slots[(int)id] = null;
        Count--;
        _lowestFree = Math.Min(_lowestFree, (int)id);
    }

    /// <summary>Puts <paramref name="value"/> under an id taken before (by a placeholder while the object was being built).</summary>
    public void Replace(uint id, IommufdObject value)
    {
        if (_slots[(int)id] == s_reserved)
        {
            Count++;
        }

        _slots[(int)id] = value;
        value.Id = id;
        _changed = true;
    }

    /// <summary>Removes the object but keeps its id taken: IOMMU_DESTROY of it is ENOENT from now on.</summary>
    public void Tombstone(uint id)
    {
        _changed = true;
        _slots[(int)id] = s_tombstone;
        Count--;
    }

    /// <summary>
    /// What unlocked handlers see (IOAS_MAP/UNMAP, which hold no context lock): the table as the last
    /// exclusive section left it, read without a lock as the kernel's xa_load under RCU does. Called
    /// with the context held exclusively, before its IOAS locks are let go.
    /// </summary>
    public void Publish()
    {
        if (_changed)
        {
            _changed = false;
            Volatile.Write(ref _published, [.. _slots]);
        }
    }

    /// <summary>
    /// The IOAS with <paramref name="id"/> as last published; safe without the context lock. Not
    /// generic: NativeAOT shares generic code over classes, and its type test then costs a lookup.
    /// </summary>
    public IoasObject? GetPublishedIoas(uint id)
    {
        IommufdObject?[] published = Volatile.Read(ref _published);
        return id < (uint)published.Length ? published[id] as IoasObject : null;
    }

    /// <summary>The IOAS with <paramref name="id"/>, if that is one (the hot paths' lookup; see <see cref="GetPublishedIoas"/>).</summary>
    public IoasObject? GetIoas(uint id) => Get(id) as IoasObject;

    /// <summary>Fills <paramref name="into"/> with the IOASes, by id.</summary>
    public void CollectIoases(List<IoasObject> into)
    {
        foreach (IommufdObject? value in _slots)
        {
            if (value is IoasObject ioas)
            {
                into.Add(ioas);
            }
        }
    }

    /// <summary>Every live object, by id.</summary>
    public IEnumerable<IommufdObject> All()
    {
        foreach (IommufdObject? value in _slots)
        {
            if (value is not null && value != s_tombstone && value != s_reserved)
            {
                yield return value;
            }
        }
    }

    private sealed class TombstoneEntry : IommufdObject
    {
        public override ObjectKind Kind => ObjectKind.Tombstone;
    }
}
