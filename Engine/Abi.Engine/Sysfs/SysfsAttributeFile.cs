using System.Text;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Sysfs;

/// <summary>
/// An open sysfs attribute: reads see the text as it was at open (kernfs's seq_file fills its buffer
/// once), at any offset; a write hands the whole text to the attribute, as kernfs does for one write.
/// </summary>
internal sealed class SysfsAttributeFile(string path, SysfsAttribute attribute, bool readable, bool writable) : EngineFile
{
    private readonly byte[] _text = readable ? Encoding.ASCII.GetBytes(attribute.Read()) : [];

    public override string Name { get; } = path;

    public override bool CanRead => readable;

    public override bool CanWrite => writable;

    public override bool CanSeek => true;

    /// <summary>A regular file a page long, readable by all when it has a show method, writable by its owner when it has a store.</summary>
    public override InodeAttributes Attributes => InodeAttributes.Regular((attribute.Readable ? 0x124u : 0) | (attribute.Write is null ? 0 : 0x80u), LinuxConstants.PageSize);

    // kernfs's seq_read_iter and write_iter both move the position by what they did.
    protected override bool MovesPosition(bool write) => true;

    public override long Read(Span<byte> buffer) => Pread(buffer, Position);

    public override long Pread(Span<byte> buffer, long offset)
    {
        if (offset >= _text.Length)
        {
            return 0;
        }

        int n = (int)Math.Min(buffer.Length, _text.Length - offset);
        _text.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    public override long Write(ReadOnlySpan<byte> buffer) => WriteFrom(buffer, buffer.Length, 0, positional: false);

    public override long Pwrite(ReadOnlySpan<byte> buffer, long offset) => WriteFrom(buffer, buffer.Length, offset, positional: true);

    /// <summary>
    /// kernfs_fop_write_iter: one write hands the attribute at most a page, copied from the caller at
    /// once (a fault anywhere in it is EFAULT, before the store runs) and ended with a NUL, so the store
    /// reads it as a C string; sysfs_kf_write answers 0 for nothing, and a store that takes it answers the
    /// page-cut length, wherever the position is.
    /// </summary>
    public override long WriteFrom(ReadOnlySpan<byte> kernel, int readable, long offset, bool positional)
    {
        int length = Math.Min(kernel.Length, LinuxConstants.PageSize);
        if (readable < length)
        {
            return EngineDiagnostics.Fail(Errno.EFAULT, $"the {length} bytes written to {Name} cannot all be read");
        }

        if (length == 0)
        {
            return 0;
        }

        ReadOnlySpan<byte> text = kernel[..length];
        int end = text.IndexOf((byte)0);
        int rc = attribute.Write?.Invoke(Encoding.ASCII.GetString(end < 0 ? text : text[..end])) ?? -(int)Errno.EACCES;
        return rc < 0 ? EngineDiagnostics.Fail((Errno)(-rc), $"{Name} refused the write") : length;
    }

    /// <summary>kernfs_fop_llseek: generic_file_llseek over the attribute's inode, a page long (sysfs gives every attribute PAGE_SIZE).</summary>
    public override long Llseek(long offset, int whence) => GenericLlseek(offset, whence, long.MaxValue, LinuxConstants.PageSize);
}
