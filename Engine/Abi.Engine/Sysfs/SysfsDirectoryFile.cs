using System.Text;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Sysfs;

/// <summary>
/// An open sysfs directory: <c>getdents64</c> gives <c>.</c>, <c>..</c> and the entries as they were at
/// open, as many whole records as fit, resuming where the last call stopped; <c>read</c> is EISDIR
/// (fs/libfs.c: generic_read_dir).
/// </summary>
internal sealed class SysfsDirectoryFile(string path, SysfsDirectory directory, ulong parentInode) : EngineFile
{
    private readonly (string Name, ulong Inode, byte Type)[] _entries =
    [
        (".", directory.Inode, DirectoryEntries.Directory),
        ("..", parentInode, DirectoryEntries.Directory),
        .. directory.Entries.Select(e => (e.Name, e.Node.Inode, e.Node switch
        {
            SysfsDirectory => DirectoryEntries.Directory,
            SysfsLink => DirectoryEntries.Link,
            _ => DirectoryEntries.Regular,
        })),
    ];

    public override string Name { get; } = path;

    public override bool CanRead => true;

    public override InodeAttributes Attributes => InodeAttributes.Directory;

    // kernfs_fill_super: sysfs is SB_I_NOEXEC.
    public override bool NoExec => true;

    public override long Read(Span<byte> buffer) => EngineDiagnostics.Fail(Errno.EISDIR, $"{Name} is a directory; list it with getdents64");

    /// <summary>
    /// The file position is the index of the next entry, and each record's d_off the index after it, so
    /// an lseek to a d_off resumes after that entry (kernfs's positions are name hashes instead: programs
    /// may only hand back what getdents gave them, and both resume the same way).
    /// </summary>
    public override long GetDents64(Span<byte> buffer)
    {
        int written = 0;
        long next = Position;
        while (next < _entries.Length)
        {
            (string name, ulong inode, byte type) = _entries[next];
            int size = DirectoryEntries.Write(buffer[written..], inode, next + 1, type, Encoding.UTF8.GetBytes(name));
            if (size == 0)
            {
                // fs/readdir.c: a buffer too small for the first record is EINVAL; otherwise stop before it.
                return written == 0 ? EngineDiagnostics.Fail(Errno.EINVAL, $"a {buffer.Length}-byte buffer cannot hold the entry '{name}'") : written;
            }

            written += size;
            SetPosition(++next);
        }

        return written;
    }

    /// <summary>kernfs_dir_fops: generic_file_llseek, over a directory inode of size 0 (rewinddir seeks to 0).</summary>
    public override long Llseek(long offset, int whence) => GenericLlseek(offset, whence, long.MaxValue, 0);
}
