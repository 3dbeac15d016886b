using System.Text;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Sysfs;

/// <summary>
/// An open sysfs attribute, read through kernfs's seq_file: a read from offset 0, or from anywhere but
/// where the last read ended, runs the show again (seq_read_iter); one that goes on from there reads
/// on in the text the show gave. A write hands the store up to a page at once, as kernfs does.
/// </summary>
internal sealed class SysfsAttributeFile(string path, SysfsAttribute attribute, bool readable, bool writable) : EngineFile
{
    private readonly Lock _lock = new();                // the seq_file's mutex
    private byte[] _text = [];
    private long _readPosition = -1;                    // m->read_pos: none before the first read

    public override string Name { get; } = path;

    public override bool CanRead => readable;

    public override bool CanWrite => writable;

    public override bool CanSeek => true;

    public override InodeAttributes Attributes => InodeOf(attribute);

    // kernfs_fill_super: sysfs is SB_I_NOEXEC.
    public override bool NoExec => true;

    /// <summary>An attribute's inode: a regular file a page long, readable by all with a show method, writable by its owner with a store.</summary>
    public static InodeAttributes InodeOf(SysfsAttribute attribute) =>
        InodeAttributes.Regular((attribute.Readable ? 0x124u : 0) | (attribute.Write is null ? 0 : 0x80u), LinuxConstants.PageSize);

    // kernfs's seq_read_iter and write_iter both move the position by what they did.
    protected override bool MovesPosition(bool write) => true;

    public override long Read(Span<byte> buffer) => Pread(buffer, Position);

    public override long Pread(Span<byte> buffer, long offset)
    {
        lock (_lock)
        {
            if (offset == 0 || offset != _readPosition)
            {
                _text = readable ? Encoding.ASCII.GetBytes(attribute.Read()) : [];
            }

            int n = offset >= _text.Length ? 0 : (int)Math.Min(buffer.Length, _text.Length - offset);
            _text.AsSpan((int)Math.Min(offset, _text.Length), n).CopyTo(buffer);
            _readPosition = offset + n;
            return n;
        }
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
        if (!TryCopyString(kernel, readable, length, out ReadOnlySpan<byte> text))
        {
            return EngineDiagnostics.Fail(Errno.EFAULT, $"the {length} bytes written to {Name} cannot all be read");
        }

        if (length == 0)
        {
            return 0;
        }

        int rc = attribute.Write?.Invoke(Encoding.ASCII.GetString(text), length) ?? -(int)Errno.EACCES;
        return rc < 0 ? EngineDiagnostics.Fail((Errno)(-rc), $"{Name} refused the write") : length;
    }

    /// <summary>kernfs_fop_llseek: generic_file_llseek over the attribute's inode, a page long (sysfs gives every attribute PAGE_SIZE).</summary>
    public override long Llseek(long offset, int whence) => GenericLlseek(offset, whence, long.MaxValue, LinuxConstants.PageSize);
}
