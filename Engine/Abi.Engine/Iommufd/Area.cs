
namespace Abi.Engine.Iommufd;

/// <summary>One mapping of an IOAS: [<see cref="Iova"/>, <see cref="Last"/>] (inclusive) onto a slice of <see cref="Pages"/>.</summary>
internal readonly record struct Area(ulong Iova, ulong Last, Pages Pages, ulong PagesOffset, bool Readable, bool Writable)
{
    public ulong Length => Last - Iova + 1;

    /// <summary>Where <paramref name="iova"/> (inside the area) lands in its source: a user address, or a file offset for MAP_FILE pages.</summary>
    public ulong SourceOf(ulong iova) => Pages.SourceAddress + PagesOffset + (iova - Iova);
}
