using Abi.Runtime.Memory;

namespace Abi.Samples.VirtioNet;

/// <summary>
/// Packet buffers in DMA memory, as DPDK's mbuf pool: fixed 2 KiB buffers, each with a 128-byte
/// headroom before the frame (the virtio-net header goes at its end), mapped once for the devices
/// that share the pool. Renting and returning neither allocate nor lock: one poll thread owns it.
/// </summary>
public sealed class MbufPool : IDisposable
{
    /// <summary>Bytes per buffer.</summary>
    public const int BufferSize = 2048;

    /// <summary>Bytes before the frame; the device's 12-byte header sits just before the frame.</summary>
    public const int Headroom = 128;

    /// <summary>Room for the frame.</summary>
    public const int DataRoom = BufferSize - Headroom;

    private readonly IDmaMapper _mapper;
    private readonly DmaBuffer _memory;
    private bool _mapped;

    /// <summary>Allocates <paramref name="count"/> buffers and maps them through <paramref name="mapper"/>.</summary>
    public MbufPool(IDmaMapper mapper, int count)
    {
        ArgumentNullException.ThrowIfNull(mapper);
        _mapper = mapper;
        _memory = DmaBuffer.Allocate(mapper.Kernel, (long)count * BufferSize);
        Buffers = new BufferPool(_memory, BufferSize, count);
        try
        {
            Buffers.IovaBase = mapper.Map(_memory);
            _mapped = true;
        }
        catch
        {
            _memory.Dispose();
            throw;
        }
    }

    /// <summary>The buffers (rent, return, addresses).</summary>
    public BufferPool Buffers { get; }

    /// <summary>Buffers free now.</summary>
    public int Available => Buffers.Available;

    /// <summary>The frame bytes of <paramref name="mbuf"/>.</summary>
    public Span<byte> Data(Mbuf mbuf) => Buffers[mbuf.Index].Slice(Headroom, mbuf.Length);

    /// <summary>The first frame byte of buffer <paramref name="index"/> (the frame room is <see cref="DataRoom"/> bytes): for per-packet stores that a span per packet would make slower.</summary>
    public unsafe ref byte FrameStart(int index) => ref *(byte*)(Buffers.AddressOf(index) + Headroom);

    /// <summary>The whole frame room of buffer <paramref name="index"/> (to build a frame in).</summary>
    public Span<byte> Room(int index) => Buffers[index][Headroom..];

    /// <summary>Gives <paramref name="mbufs"/> back to the pool.</summary>
    public void Free(ReadOnlySpan<Mbuf> mbufs)
    {
        foreach (Mbuf mbuf in mbufs)
        {
            Buffers.Return(mbuf.Index);
        }
    }

    /// <summary>Unmaps and frees the memory; the devices using it must be stopped first.</summary>
    public void Dispose()
    {
        if (_mapped)
        {
            _mapped = false;
            _mapper.Unmap(Buffers.IovaBase, (ulong)_memory.Length);
        }

        _memory.Dispose();
    }
}
