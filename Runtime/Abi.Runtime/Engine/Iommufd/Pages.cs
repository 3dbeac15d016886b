namespace Abi.Runtime.Engine.Iommufd;

/// <summary>
/// The memory behind one MAP or MAP_FILE: a user VA range or a file range. Areas of one or several
/// IOAS share it (COPY), and it is pinned once however many domains use it. It stays until the
/// last area referring to it is unmapped.
/// </summary>
internal sealed class Pages
{
    public required ulong UserVa { get; init; }

    public required ulong Length { get; init; }

    /// <summary>For MAP_FILE: the file descriptor and the byte offset; null for user memory.</summary>
    public int? FileDescriptor { get; init; }

    public ulong FileOffset { get; init; }

    /// <summary>Whether the pages may be mapped writable (a read-only source cannot become writable by COPY).</summary>
    public required bool Writable { get; init; }

    /// <summary>The areas that refer to it.</summary>
    public int Areas { get; set; }

    /// <summary>The sub-page offset of the source: the IOVA keeps it.</summary>
    public ulong SourceAddress => FileDescriptor is null ? UserVa : FileOffset;
}
