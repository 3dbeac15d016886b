using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Abi.Runtime.Kernel;

namespace Abi.Runtime.Vfio;

/// <summary>
/// A mapped device region (a BAR): registers read and written with volatile 8/16/32/64-bit accesses
/// at naturally aligned offsets. On a real device the region is an <c>mmap</c> of the VFIO device fd;
/// on the engine it may be trapped, and every access then reaches the device model synchronously.
/// </summary>
/// <remarks>
/// Ordering: loads and stores to one region are issued in program order (volatile). Before telling a
/// device about memory it will DMA from (a doorbell write after filling descriptors), call
/// <see cref="WriteBarrier"/>; after reading a device-written status and before reading the data it
/// covers, call <see cref="ReadBarrier"/>. Both are cheap on x86, where the hardware orders most of it.
/// </remarks>
public sealed unsafe class MmioRegion : IDisposable
{
    private readonly IMmioHandler? _handler;
    private readonly Action<nint, long>? _unmap;
    private byte* _base;

    internal MmioRegion(byte* mapped, long length, Action<nint, long> unmap)
    {
        _base = mapped;
        Length = length;
        _unmap = unmap;
    }

    internal MmioRegion(IMmioHandler handler, long length)
    {
        _handler = handler;
        Length = length;
    }

    /// <summary>The region's size in bytes.</summary>
    public long Length { get; }

    /// <summary>Whether accesses go to a device model rather than to mapped memory.</summary>
    public bool IsTrapped => _handler is not null;

    /// <summary>Reads an 8-bit register.</summary>
    public byte Read8(long offset) => _handler is null ? Volatile.Read(ref *At(offset, 1)) : (byte)_handler.Read(Check(offset, 1), 1);

    /// <summary>Reads a 16-bit register.</summary>
    public ushort Read16(long offset) => _handler is null ? Volatile.Read(ref *(ushort*)At(offset, 2)) : (ushort)_handler.Read(Check(offset, 2), 2);

    /// <summary>Reads a 32-bit register.</summary>
    public uint Read32(long offset) => _handler is null ? Volatile.Read(ref *(uint*)At(offset, 4)) : (uint)_handler.Read(Check(offset, 4), 4);

    /// <summary>Reads a 64-bit register.</summary>
    public ulong Read64(long offset) => _handler is null ? Volatile.Read(ref *(ulong*)At(offset, 8)) : _handler.Read(Check(offset, 8), 8);

    /// <summary>Writes an 8-bit register.</summary>
    public void Write8(long offset, byte value)
    {
        if (_handler is null)
        {
            Volatile.Write(ref *At(offset, 1), value);
        }
        else
        {
            _handler.Write(Check(offset, 1), 1, value);
        }
    }

    /// <summary>Writes a 16-bit register.</summary>
    public void Write16(long offset, ushort value)
    {
        if (_handler is null)
        {
            Volatile.Write(ref *(ushort*)At(offset, 2), value);
        }
        else
        {
            _handler.Write(Check(offset, 2), 2, value);
        }
    }

    /// <summary>Writes a 32-bit register.</summary>
    public void Write32(long offset, uint value)
    {
        if (_handler is null)
        {
            Volatile.Write(ref *(uint*)At(offset, 4), value);
        }
        else
        {
            _handler.Write(Check(offset, 4), 4, value);
        }
    }

    /// <summary>Writes a 64-bit register.</summary>
    public void Write64(long offset, ulong value)
    {
        if (_handler is null)
        {
            Volatile.Write(ref *(ulong*)At(offset, 8), value);
        }
        else
        {
            _handler.Write(Check(offset, 8), 8, value);
        }
    }

    /// <summary>Orders earlier memory writes (descriptors, buffers) before later ones (a doorbell): <c>sfence</c> on x86, a full barrier elsewhere.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteBarrier()
    {
        if (Sse.IsSupported)
        {
            Sse.StoreFence();
        }
        else
        {
            Interlocked.MemoryBarrier();
        }
    }

    /// <summary>Orders an earlier read (a status a device wrote) before later reads (the data it covers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReadBarrier()
    {
        if (Sse2.IsSupported)
        {
            Sse2.LoadFence();
        }
        else
        {
            Interlocked.MemoryBarrier();
        }
    }

    /// <summary>Unmaps the region.</summary>
    public void Dispose()
    {
        if (_base is not null && _unmap is not null)
        {
            _unmap((nint)_base, Length);
            _base = null;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* At(long offset, int size)
    {
        Check(offset, size);
        return _base is not null ? _base + offset : throw new ObjectDisposedException(nameof(MmioRegion));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private long Check(long offset, int size)
    {
        if (offset < 0 || offset > Length - size || (offset & (size - 1)) != 0)
        {
            ThrowOutOfRange(offset, size);
        }

        return offset;
    }

    private void ThrowOutOfRange(long offset, int size) =>
        throw new ArgumentOutOfRangeException(nameof(offset), $"a {size * 8}-bit access at 0x{offset:X} is outside the 0x{Length:X}-byte region or not aligned to {size}");
}
