using System.Buffers;
using System.Runtime.InteropServices;

namespace Abi.Interop;

/// <summary>
/// The result of an <c>*_INFO</c> ioctl with its capability chain, in a buffer rented from the shared
/// pool. Dispose it to return the buffer; the struct and chain are invalid afterwards.
/// </summary>
/// <typeparam name="T">The info struct, which starts with <c>__u32 argsz</c>.</typeparam>
public sealed class CapabilityBuffer<T> : IDisposable
    where T : unmanaged
{
    private byte[]? _array;
    private readonly int _length;

    internal CapabilityBuffer(byte[] array, int length)
    {
        _array = array;
        _length = length;
    }

    /// <summary>The info struct followed by its capabilities, as long as the kernel's <c>argsz</c>.</summary>
    public Span<byte> Bytes => (_array ?? throw new ObjectDisposedException(nameof(CapabilityBuffer<T>))).AsSpan(0, _length);

    /// <summary>The info struct.</summary>
    public ref T Value => ref MemoryMarshal.AsRef<T>(Bytes);

    /// <summary>The capability chain starting at <paramref name="capOffset"/> (the struct's <c>cap_offset</c>).</summary>
    public unsafe CapabilityChain Capabilities(uint capOffset) => new(Bytes, capOffset, sizeof(T));

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        if (_array is byte[] array)
        {
            _array = null;
            ArrayPool<byte>.Shared.Return(array);
        }
    }
}
