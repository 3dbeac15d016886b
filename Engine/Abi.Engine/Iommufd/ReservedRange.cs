
namespace Abi.Engine.Iommufd;

/// <summary>
/// A reserved IOVA range [<see cref="Start"/>, <see cref="Last"/>] and who put it there: a device
/// (its MSI window), a domain (outside its aperture), or nobody (the context). The owner is how a
/// detach takes away exactly what its attach added.
/// </summary>
internal readonly record struct ReservedRange(ulong Start, ulong Last, object? Owner)
{
    public void Deconstruct(out ulong start, out ulong last)
    {
        start = Start;
        last = Last;
    }

    public bool Intersects(ulong start, ulong last) => Start <= last && start <= Last;
}
