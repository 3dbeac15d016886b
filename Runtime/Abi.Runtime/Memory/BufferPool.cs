namespace Abi.Runtime.Memory;

/// <summary>
/// A fixed number of fixed-size buffers carved from one <see cref="DmaBuffer"/>, for a poll loop:
/// renting and returning take an index off and onto a stack, so they neither allocate nor lock.
/// One thread only; that is the poll-mode model, and it is what keeps the pool free of atomics.
/// </summary>
public sealed class BufferPool
{
    private readonly int[] _free;
    private readonly bool[] _isFree;
    private int _top;

    /// <summary>Splits <paramref name="memory"/> into <paramref name="count"/> buffers of <paramref name="bufferSize"/> bytes.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The buffers do not fit, or a size is not positive.</exception>
    public BufferPool(DmaBuffer memory, int bufferSize, int count)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bufferSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((long)bufferSize * count, memory.Length, nameof(count));
        Memory = memory;
        BufferSize = bufferSize;
        Count = count;
        _free = new int[count];
        _isFree = new bool[count];
        for (int i = 0; i < count; i++)
        {
            _free[i] = count - 1 - i;
            _isFree[i] = true;
        }

        _top = count;
    }

    /// <summary>The memory the buffers live in.</summary>
    public DmaBuffer Memory { get; }

    /// <summary>Bytes per buffer.</summary>
    public int BufferSize { get; }

    /// <summary>Buffers in all.</summary>
    public int Count { get; }

    /// <summary>Buffers free now.</summary>
    public int Available => _top;

    /// <summary>The IOVA <see cref="Memory"/> is mapped at, once the caller has mapped it; buffer IOVAs derive from it.</summary>
    public ulong IovaBase { get; set; }

    /// <summary>Takes a free buffer; false when none is left.</summary>
    public bool TryRent(out int index)
    {
        if (_top == 0)
        {
            index = -1;
            return false;
        }

        index = _free[--_top];
        _isFree[index] = false;
        return true;
    }

    /// <summary>Takes up to <paramref name="indices"/>.Length free buffers; returns how many.</summary>
    public int RentBulk(Span<int> indices)
    {
        int n = Math.Min(indices.Length, _top);
        for (int i = 0; i < n; i++)
        {
            int index = _free[--_top];
            _isFree[index] = false;
            indices[i] = index;
        }

        return n;
    }

    /// <summary>Gives a buffer back.</summary>
    /// <exception cref="InvalidOperationException">The buffer is already free (a double free).</exception>
    public void Return(int index)
    {
        if ((uint)index >= (uint)Count)
        {
            throw new ArgumentOutOfRangeException(nameof(index));
        }

        if (_isFree[index])
        {
            throw new InvalidOperationException($"buffer {index} is already free: it was returned twice");
        }

        _isFree[index] = true;
        _free[_top++] = index;
    }

    /// <summary>The bytes of buffer <paramref name="index"/>.</summary>
    public Span<byte> this[int index] => Memory.Slice(Offset(index), BufferSize);

    /// <summary>The user virtual address of buffer <paramref name="index"/>.</summary>
    public nint AddressOf(int index) => Memory.Address + (nint)Offset(index);

    /// <summary>The IOVA of buffer <paramref name="index"/> (a device's view), given <see cref="IovaBase"/>.</summary>
    public ulong IovaOf(int index) => IovaBase + (ulong)Offset(index);

    private long Offset(int index) => (uint)index < (uint)Count ? (long)index * BufferSize : throw new ArgumentOutOfRangeException(nameof(index));
}
