namespace Abi.Runtime.Engine.Iommufd;

/// <summary>One mapping of an IOAS: [<see cref="Iova"/>, <see cref="Last"/>] (inclusive) onto a slice of <see cref="Pages"/>.</summary>
internal readonly record struct Area(ulong Iova, ulong Last, Pages Pages, ulong PagesOffset, bool Readable, bool Writable)
{
    public ulong Length => Last - Iova + 1;
}
