using Abi.Interop;

namespace Abi.Engine;

/// <summary>
/// A file the engine serves (an iommufd context, later VFIO groups, containers and devices). Each
/// call returns the result or <c>-errno</c>, like the kernel; the defaults are what Linux answers
/// for a file that does not implement the operation.
/// </summary>
internal abstract class EngineFile
{
    /// <summary>The path it was opened as, for messages.</summary>
    public abstract string Name { get; }

    public virtual int Ioctl(uint request, nint argument) => -(int)Errno.ENOTTY;

    public virtual long Read(Span<byte> buffer) => -(long)Errno.EINVAL;

    public virtual long Write(ReadOnlySpan<byte> buffer) => -(long)Errno.EINVAL;

    public virtual long Pread(Span<byte> buffer, long offset) => -(long)Errno.ESPIPE;

    public virtual long Pwrite(ReadOnlySpan<byte> buffer, long offset) => -(long)Errno.ESPIPE;

    /// <summary>The poll events that are ready now.</summary>
    public virtual short Poll(short requested) => 0;

    /// <summary>The last fd referring to the file was closed.</summary>
    public virtual void Release()
    {
    }
}
