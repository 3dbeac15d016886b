namespace Abi.Engine.Iommufd;

/// <summary>
/// An IOAS object (ioas.c, <c>struct iommufd_ioas</c>): an object-table entry holding one
/// <see cref="IoPagetable"/>, which owns the mappings, ranges, domains and accesses.
/// </summary>
internal sealed class IoasObject(IoPagetable iopt) : IommufdObject
{
    public override ObjectKind Kind => ObjectKind.Ioas;

    /// <summary>The I/O page table (<c>ioas->iopt</c>).</summary>
    public IoPagetable Iopt { get; } = iopt;

    /// <summary>Destroyed with mappings still in it: the pages they leave behind let go of their files.</summary>
    public override void Destroyed() => Iopt.Destroy();
}
