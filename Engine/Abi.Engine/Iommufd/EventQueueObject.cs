using Abi.Engine.Process;
using Abi.Interop;

namespace Abi.Engine.Iommufd;

/// <summary>
/// What the fault queue and the vEVENTQ share (<c>struct iommufd_eventq</c> in
/// <c>drivers/iommu/iommufd/eventq.c</c>): an object with a lock and a list of records to deliver,
/// read (and for faults answered) through an anonymous-inode fd that pins the object while open.
/// Each kind says how its records are read, written and when it is ready.
/// </summary>
internal abstract class EventQueueObject : IommufdObject
{
    public Lock Sync { get; } = new();

    /// <summary>The fd's pollers, woken when a record is queued (the eventq's wait_queue).</summary>
    public WaitQueue Waiters { get; } = new();

    /// <summary>The fd's name, as /proc/self/fd shows an anonymous inode.</summary>
    public abstract string FileName { get; }

    /// <summary><c>read</c> on the fd: whole records only, or <c>-errno</c>.</summary>
    public abstract long Read(Span<byte> buffer);

    /// <summary>Whether the fd has a write operation (the fault queue's responses).</summary>
    public virtual bool Writable => false;

    /// <summary>The unit the fd's write copies in.</summary>
    public virtual int WriteRecord => 1;

    /// <summary>The checks the fd's read or write makes on the count before it touches the caller's buffer.</summary>
    public virtual long CheckCount(long count, long offset, bool write) => 0;

    /// <summary><c>write</c> on the fd; EINVAL for a queue without a write operation, as for any such file.</summary>
    public virtual long Write(ReadOnlySpan<byte> buffer) => -(long)Errno.EINVAL;

    /// <summary>The poll events ready now.</summary>
    public abstract short Ready();

    /// <summary>The length of record <paramref name="index"/> of what the last read handed out; 0 past the last.</summary>
    public abstract int RecordLength(int index);

    /// <summary>Records from <paramref name="index"/> on of the last read did not reach the caller: back to the head.</summary>
    public abstract void GiveBack(int index);

    /// <summary>The fd side: every call goes to the queue; closing it unpins the object.</summary>
    internal sealed class File(EventQueueObject queue, IommufdFile owner) : EngineFile
    {
        public override string Name => queue.FileName;

        // iommufd_eventq_init: an anonymous inode.
        public override bool NoExec => true;

        // An anonymous-inode file: no pread or pwrite (ESPIPE, the defaults).
        public override bool CanRead => true;

        public override bool CanWrite => queue.Writable;

        public override long CheckCount(long count, long offset, bool write) => queue.CheckCount(count, offset, write);

        public override int WriteRecord => queue.WriteRecord;

        public override long Read(Span<byte> buffer) => queue.Read(buffer);

        public override int RecordLength(int index) => queue.RecordLength(index);

        public override void GiveBack(int index) => queue.GiveBack(index);

        public override long Write(ReadOnlySpan<byte> buffer) => queue.Write(buffer);

        public override short Poll(short requested) => (short)(queue.Ready() & requested);

        public override WaitQueue? PollQueue => queue.Waiters;

        public override void Release() => owner.ReleasePinningFd(queue);
    }
}
