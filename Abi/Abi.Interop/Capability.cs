namespace Abi.Interop;

/// <summary>One entry of a VFIO capability chain: its header fields and its bytes, header included.</summary>
public readonly ref struct Capability
{
    internal Capability(ushort id, ushort version, uint offset, ReadOnlySpan<byte> bytes)
    {
        Id = id;
        Version = version;
        Offset = offset;
        Bytes = bytes;
    }

    /// <summary>The capability id (<c>VFIO_REGION_INFO_CAP_SPARSE_MMAP</c>...).</summary>
    public ushort Id { get; }

    /// <summary>The capability's version.</summary>
    public ushort Version { get; }

    /// <summary>Its offset from the start of the info struct.</summary>
    public uint Offset { get; }

    /// <summary>From its header to the next capability, or to the end of the reported data.</summary>
    public ReadOnlySpan<byte> Bytes { get; }
}
