namespace Abi.Model;

/// <summary>What the third argument of an ioctl is.</summary>
public enum IoctlArgKind
{
    /// <summary>Nothing (ignored by the kernel).</summary>
    None,

    /// <summary>A pointer to the struct named by <see cref="IoctlDecl.Struct"/>.</summary>
    Struct,

    /// <summary>An integer passed by value (<c>VFIO_CHECK_EXTENSION</c>, <c>VFIO_SET_IOMMU</c>).</summary>
    Value,

    /// <summary>A pointer to a single <c>int</c> (<c>VFIO_GROUP_SET_CONTAINER</c>).</summary>
    IntPointer,

    /// <summary>A pointer to a value of <see cref="IoctlDecl.ArgumentType"/> (a scalar, an array, a pointer).</summary>
    Pointer,

    /// <summary>A pointer to a NUL-terminated string (<c>VFIO_GROUP_GET_DEVICE_FD</c>).</summary>
    String,
}
