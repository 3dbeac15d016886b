namespace Abi.Model;

/// <summary>
/// One ioctl. iommufd and VFIO ioctls are all <c>_IO(type, nr)</c>: the number encodes neither
/// the argument nor its direction, so those come from kernel-doc or the override table.
/// </summary>
public sealed record IoctlDecl
{
    /// <summary>The macro name, e.g. <c>IOMMU_IOAS_MAP</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The kind of fd it is issued on.</summary>
    public required FdKind FdKind { get; init; }

    /// <summary>The evaluated request code.</summary>
    public required uint Request { get; init; }

    /// <summary><c>_IOC_TYPE</c> of the request.</summary>
    public required int Type { get; init; }

    /// <summary><c>_IOC_NR</c> of the request.</summary>
    public required int Number { get; init; }

    /// <summary>The direction bits of the request (<c>_IOC_DIR</c>): None for every iommufd and VFIO ioctl.</summary>
    public required IoctlDirection EncodedDirection { get; init; }

    /// <summary>The size bits of the request (<c>_IOC_SIZE</c>): 0 for every iommufd and VFIO ioctl.</summary>
    public required int EncodedSize { get; init; }

    /// <summary>What the argument is.</summary>
    public required IoctlArgKind Argument { get; init; }

    /// <summary>For <see cref="IoctlArgKind.Struct"/>: the struct's tag name.</summary>
    public string? Struct { get; init; }

    /// <summary>
    /// For <see cref="IoctlArgKind.Pointer"/> and <see cref="IoctlArgKind.Value"/>: the type pointed to, or
    /// passed, as clang resolved it from the request macro (<c>_IOR(.., __u64)</c>) or the override.
    /// </summary>
    public TypeRef? ArgumentType { get; init; }

    /// <summary>
    /// For <see cref="IoctlArgKind.Struct"/>: the member whose end is the smallest argument size the
    /// kernel's handler accepts (iommufd's <c>IOCTL_OP</c> last column, a VFIO handler's
    /// <c>offsetofend</c>), when an override names it. Older callers stop there; fields after it are
    /// extensions.
    /// </summary>
    public string? MinSizeMember { get; init; }

    /// <summary>The end of <see cref="MinSizeMember"/> in bytes (offset plus size).</summary>
    public int? MinSize { get; init; }

    /// <summary>Which way the argument travels.</summary>
    public required IoctlDirection Direction { get; init; }

    /// <summary>Where <see cref="Argument"/>, <see cref="Struct"/> and <see cref="Direction"/> came from.</summary>
    public required IoctlSource Source { get; init; }

    /// <summary>The ioctl's documentation.</summary>
    public DocComment? Doc { get; init; }
}
