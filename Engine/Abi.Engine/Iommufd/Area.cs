
namespace Abi.Engine.Iommufd;

/// <summary>One mapping of an IOAS: [<see cref="Iova"/>, <see cref="Last"/>] (inclusive) onto a slice of <see cref="Pages"/>.</summary>
internal readonly record struct Area(ulong Iova, ulong Last, Pages Pages, ulong PagesOffset, bool Readable, bool Writable)
{
    public Pages Pages
    {
        get;
        init
        {
            field = value;
            UserAddress = UserAddressOf(value, PagesOffset);
        }
    } = Pages;

    public ulong PagesOffset
    {
        get;
        init
        {
            field = value;
            UserAddress = UserAddressOf(Pages, value);
        }
    } = PagesOffset;

    /// <summary>
    /// The process address of the area's first byte when its pages are user memory, 0 when they are
    /// a file's. An IOTLB miss translates with it and need not read the pages object, which among many
    /// areas is a cache miss of its own. Made with the area, and again by a <c>with</c> that changes
    /// <see cref="Pages"/> or <see cref="PagesOffset"/> (a pages object's user address stays as it is
    /// while any area holds it).
    /// </summary>
    public ulong UserAddress { get; private init; } = UserAddressOf(Pages, PagesOffset);

    public ulong Length => Last - Iova + 1;

    /// <summary>Where <paramref name="iova"/> (inside the area) lands in its source: a user address, or a file offset for MAP_FILE pages.</summary>
    public ulong SourceOf(ulong iova) => Pages.SourceAddress + PagesOffset + (iova - Iova);

    private static ulong UserAddressOf(Pages pages, ulong offset) => pages is { FileDescriptor: null } ? pages.UserVa + offset : 0;
}
