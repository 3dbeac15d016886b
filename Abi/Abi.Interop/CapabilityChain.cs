using System.Buffers.Binary;
using System.Globalization;

namespace Abi.Interop;

/// <summary>
/// Walks the capability chain of a VFIO <c>*_INFO</c> result. Each entry starts with
/// <c>struct vfio_info_cap_header { __u16 id; __u16 version; __u32 next; }</c>, and <c>next</c> is an
/// offset from the start of the info struct (0 ends the chain). The caller passes the info cut to the
/// data the kernel reported (<c>argsz</c>, capped by the buffer); every offset is checked against
/// that span before it is read, and must move forward, so a corrupt chain can neither read out of
/// bounds nor loop.
/// </summary>
public readonly ref struct CapabilityChain
{
    /// <summary>sizeof(struct vfio_info_cap_header).</summary>
    public const int HeaderSize = 8;

    private readonly ReadOnlySpan<byte> _info;
    private readonly uint _first;
    private readonly int _fixedSize;

    /// <param name="info">The info struct followed by its capabilities, exactly as long as the valid data (<c>argsz</c>).</param>
    /// <param name="firstOffset">The struct's <c>cap_offset</c>; 0 for no capabilities.</param>
    /// <param name="fixedSize">The size of the info struct itself; no capability may start inside it.</param>
    public CapabilityChain(ReadOnlySpan<byte> info, uint firstOffset, int fixedSize)
    {
        _info = info;
        _first = firstOffset;
        _fixedSize = fixedSize;
    }

    /// <summary>Starts the walk.</summary>
    public Enumerator GetEnumerator() => new(_info, _first, _fixedSize);

    /// <summary>Enumerates the chain; throws <see cref="InvalidDataException"/> at the first bad offset.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _info;
        private readonly int _fixedSize;
        private uint _next;
        private uint _lastOffset;

        internal Enumerator(ReadOnlySpan<byte> info, uint first, int fixedSize)
        {
            _info = info;
            _next = first;
            _fixedSize = fixedSize;
        }

        /// <summary>The capability the walk is at.</summary>
        public Capability Current { get; private set; }

        /// <summary>Moves to the next capability; false at the end of the chain.</summary>
        public bool MoveNext()
        {
            if (_next == 0)
            {
                return false;
            }

            uint offset = _next;
            if (offset < (uint)_fixedSize || offset <= _lastOffset || (ulong)offset + HeaderSize > (ulong)_info.Length)
            {
                throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                    $"capability at offset {offset} is outside the reported data ({_fixedSize}..{_info.Length}) or does not move forward"));
            }

            ReadOnlySpan<byte> header = _info.Slice((int)offset, HeaderSize);
            ushort id = BinaryPrimitives.ReadUInt16LittleEndian(header);
            ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
            uint next = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            int end = next == 0 || next > (uint)_info.Length || next <= offset ? _info.Length : (int)next;
            Current = new Capability(id, version, offset, _info[(int)offset..end]);
            _lastOffset = offset;
            _next = next;
            return true;
        }
    }
}
