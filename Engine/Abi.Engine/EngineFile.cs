using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;

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

    /// <summary>An ioctl from <paramref name="thread"/> (the kernel's <c>current</c>), whose last reason the caller has cleared.</summary>
    public virtual int Ioctl(EngineThread thread, uint request, nint argument) => -(int)Errno.ENOTTY;

    /// <summary>FMODE_CAN_READ: the file has a read operation (vfs_read answers EINVAL otherwise, before it looks at the buffer).</summary>
    public virtual bool CanRead => false;

    /// <summary>FMODE_CAN_WRITE: the file has a write operation.</summary>
    public virtual bool CanWrite => false;

    /// <summary>What fstat shows of the file (an anonymous inode's attributes unless the file says otherwise).</summary>
    public virtual InodeAttributes Attributes => InodeAttributes.AnonymousInode();

    /// <summary>
    /// path_noexec: the file lives on a filesystem without exec (an anonymous inode's, dma-buf's: both
    /// pseudo filesystems set SB_I_NOEXEC), so an executable mapping of it is EPERM.
    /// </summary>
    public virtual bool NoExec => false;

    /// <summary>FMODE_PREAD / FMODE_PWRITE: pread and pwrite are served (ESPIPE otherwise, first of all).</summary>
    public virtual bool CanSeek => false;

    /// <summary>The access mode it was opened with (O_RDONLY, O_WRONLY, O_RDWR, or 3): the kernel's FMODE_READ and FMODE_WRITE.</summary>
    public int AccessMode { get; set; } = Runtime.Kernel.LinuxConstants.O_RDWR;

    // OPEN_FMODE: (flags + 1) & O_ACCMODE, so O_ACCMODE itself (3) opens for neither.
    public bool OpenedForReading => ((AccessMode + 1) & 1) != 0;

    public bool OpenedForWriting => ((AccessMode + 1) & 2) != 0;

    /// <summary>The unit a write copies in (a fault queue's response): a buffer that faults part way is taken up to its last whole unit.</summary>
    public virtual int WriteRecord => 1;

    /// <summary>
    /// write/pwrite of <paramref name="kernel"/>, whose first <paramref name="readable"/> bytes came from
    /// the caller (all of them unless the caller's buffer faults part way; the rest is not the caller's).
    /// The default copies record by record, as the event queues do: the file sees the whole records that
    /// could be read, and a fault right after them ends the call with what they did (EFAULT if nothing).
    /// A file whose handler copies differently (all at once, or piece by piece as it goes) overrides it.
    /// </summary>
    public virtual long WriteFrom(ReadOnlySpan<byte> kernel, int readable, long offset, bool positional)
    {
        if (readable == kernel.Length)
        {
            return positional ? Pwrite(kernel, offset) : Write(kernel);
        }

        int whole = readable - (readable % WriteRecord);
        long done = whole == 0 ? 0 : positional ? Pwrite(kernel[..whole], offset) : Write(kernel[..whole]);
        return done < 0 || done < whole ? done : done > 0 ? done : -(int)Errno.EFAULT;
    }

    /// <summary>
    /// For a handler that copies up to <paramref name="limit"/> bytes from the caller at once and reads
    /// them as a C string (kernfs's write, kstrto*_from_user): the text before its first NUL, or false when
    /// those bytes cannot all be read (the copy's EFAULT, before the handler does anything).
    /// </summary>
    protected static bool TryCopyString(ReadOnlySpan<byte> kernel, int readable, int limit, out ReadOnlySpan<byte> text)
    {
        int length = Math.Min(kernel.Length, limit);
        text = kernel[..length];
        int end = text.IndexOf((byte)0);
        text = end < 0 ? text : text[..end];
        return readable >= length;
    }

    /// <summary>The file's own checks on a read or write of <paramref name="count"/> bytes at <paramref name="offset"/>, made before it copies from or to the caller; 0 or -errno.</summary>
    public virtual long CheckCount(long count, long offset, bool write) => 0;

    public virtual long Read(Span<byte> buffer) => -(long)Errno.EINVAL;

    /// <summary>
    /// For a file whose reads hand out records (the event queues): the length of record
    /// <paramref name="index"/> of what the last <see cref="Read"/> produced, so that a copy to the caller
    /// that faults stops at a record's start; 0 past the last, and always 0 for a file read in one piece.
    /// </summary>
    public virtual int RecordLength(int index) => 0;

    /// <summary>Records from <paramref name="index"/> on of the last read never reached the caller: back to the queue's head, as the kernel's deliver_restore puts them.</summary>
    public virtual void GiveBack(int index)
    {
    }

    public virtual long Write(ReadOnlySpan<byte> buffer) => -(long)Errno.EINVAL;

    public virtual long Pread(Span<byte> buffer, long offset) => -(long)Errno.ESPIPE;

    public virtual long Pwrite(ReadOnlySpan<byte> buffer, long offset) => -(long)Errno.ESPIPE;

    /// <summary>
    /// The poll events that are ready now. A file without a poll operation is always ready for both
    /// directions (vfs_poll's DEFAULT_POLLMASK), as iommufd's, VFIO's group, container and device files are.
    /// </summary>
    public virtual short Poll(short requested) =>
        (short)(requested & (LinuxConstants.POLLIN | LinuxConstants.POLLOUT | LinuxConstants.POLLRDNORM | LinuxConstants.POLLWRNORM));

    /// <summary>The wait queue poll waits on when the file is not ready (null for a file whose readiness never changes on its own).</summary>
    public virtual WaitQueue? PollQueue => null;

    private long _position;

    /// <summary>f_pos: where read and write (not pread and pwrite) start; it stays 0 for a file whose handlers never move *ppos.</summary>
    public long Position => Volatile.Read(ref _position);

    /// <summary>Whether the file's read (or write) handler moves *ppos by what it did (vfio_pci_rw, seq_read, simple_read_from_buffer do; the event queues do not).</summary>
    protected virtual bool MovesPosition(bool write) => false;

    /// <summary>
    /// lseek, after ksys_lseek refused a whence past SEEK_MAX: the new position or -errno. A file without
    /// an llseek operation has no FMODE_LSEEK, and vfs_llseek answers ESPIPE (iommufd's, VFIO's and the
    /// event queues' files, a task's fail-nth).
    /// </summary>
    public virtual long Llseek(long offset, int whence) => -(long)Errno.ESPIPE;

    /// <summary>
    /// generic_file_llseek_size (fs/read_write.c) for a file of <paramref name="eof"/> bytes that may grow to
    /// <paramref name="maxSize"/>: SEEK_CUR 0 reads the position without storing it, SEEK_DATA and SEEK_HOLE
    /// see one extent of data then a hole at the end (ENXIO at or past it), and vfs_setpos refuses a
    /// negative position or one past the limit (EINVAL).
    /// </summary>
    protected long GenericLlseek(long offset, int whence, long maxSize, long eof)
    {
        switch (whence)
        {
            case LinuxConstants.SEEK_END:
                offset += eof;
                break;
            case LinuxConstants.SEEK_CUR when offset == 0:
                return Position;
            case LinuxConstants.SEEK_CUR:
                offset += Position;
                break;
            case LinuxConstants.SEEK_DATA when (ulong)offset >= (ulong)eof:
            case LinuxConstants.SEEK_HOLE when (ulong)offset >= (ulong)eof:
                return -(long)Errno.ENXIO;
            case LinuxConstants.SEEK_HOLE:
                offset = eof;
                break;
        }

        if (offset < 0 || offset > maxSize)
        {
            return -(long)Errno.EINVAL;
        }

        Volatile.Write(ref _position, offset);
        return offset;
    }

    /// <summary>Stores the position a handler that keeps its own (a directory's iterate) moved to.</summary>
    protected void SetPosition(long position) => Volatile.Write(ref _position, position);

    /// <summary>ksys_read / ksys_write: a read or write that answered <paramref name="done"/> bytes, copies included, stores the moved position; a failure leaves it.</summary>
    public void Advance(long done, bool write)
    {
        if (MovesPosition(write))
        {
            Interlocked.Add(ref _position, done);
        }
    }

    /// <summary>getdents64: directory records, 0 at the end; ENOTDIR for anything but a directory.</summary>
    public virtual long GetDents64(Span<byte> buffer) => -(long)Errno.ENOTDIR;

    private int _references = 1;

    /// <summary>The last reference went (the fd was closed and nothing else holds the file): fput's release.</summary>
    public virtual void Release()
    {
    }

    /// <summary>get_file: something besides the fd holds the file (a MAP_FILE mapping); it stays open until <see cref="Put"/>.</summary>
    internal void Get() => Interlocked.Increment(ref _references);

    /// <summary>
    /// get_file_rcu: a reference unless the file is already going (its last reference dropped on
    /// another thread after a caller found it in the fd table, which takes none).
    /// </summary>
    internal bool TryGet()
    {
        int references = Volatile.Read(ref _references);
        while (references > 0)
        {
            int seen = Interlocked.CompareExchange(ref _references, references + 1, references);
            if (seen == references)
            {
                return true;
            }

            references = seen;
        }

        return false;
    }

    /// <summary>fput: drops a reference; the last one releases the file.</summary>
    internal void Put()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            Release();
        }
    }
}
