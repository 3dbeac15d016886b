using System.Text;
using Abi.Interop;

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

    public override long Write(ReadOnlySpan<byte> buffer) => Pwrite(buffer, 0);

    public override long Pwrite(ReadOnlySpan<byte> buffer, long offset)
    {
        int rc = attribute.Write?.Invoke(Encoding.ASCII.GetString(buffer)) ?? -(int)Errno.EACCES;
        return rc < 0 ? EngineDiagnostics.Fail((Errno)(-rc), $"{Name} refused the write") : buffer.Length;
    }
}
