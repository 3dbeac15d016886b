using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// A vEVENTQ (IOMMU_VEVENTQ_ALLOC): events a vIOMMU reports for its vDEVICEs, read from its fd as
/// an <c>iommufd_vevent_header</c> followed by the event's data. At most <see cref="Depth"/> events
/// wait; past that, reports collapse into one lost-events header (IOMMU_VEVENTQ_FLAG_LOST_EVENTS) at
/// the tail, which still takes a sequence number, so a reader sees both the flag and the gap.
/// The open fd pins the object; the object holds its vIOMMU busy.
/// </summary>
internal sealed unsafe class VeventqObject : EventQueueObject
{
    // The queue in delivery order; an entry with Data == null is the lost-events header.
    private readonly LinkedList<Entry> _deliver = new();
    private readonly LinkedListNode<Entry> _lost = new(default);
    private int _pending;
    private uint _sequence;
    private readonly List<Entry> _lastRead = [];     // what the last read handed out, in order

    public VeventqObject(ViommuObject viommu, uint type, uint depth)
    {
        Viommu = viommu;
        Type = type;
        Depth = depth;
        viommu.Users++;
        viommu.AddVeventq(this);
    }

    public override ObjectKind Kind => ObjectKind.Veventq;

    public ViommuObject Viommu { get; }

    public uint Type { get; }

    public uint Depth { get; }

    /// <summary>Queues an event; a full queue records a lost event instead (iommufd_viommu_report_event).</summary>
    public void Report(byte[] data)
    {
        lock (Sync)
        {
            LinkedListNode<Entry> node;
            if (_pending == Depth)
            {
                node = _lost;
            }
            else
            {
                node = new LinkedListNode<Entry>(new Entry(0, data));
                _pending++;
            }

            // A lost-events header at the tail moves to carry the newest sequence number.
            if (_deliver.Last == _lost)
            {
                _deliver.Remove(_lost);
            }

            if (node.List is not null)
            {
                _deliver.Remove(node);
            }

            node.Value = node.Value with { Sequence = _sequence };
            _deliver.AddLast(node);
            _sequence = (_sequence + 1) & int.MaxValue;
        }

        Waiters.WakeUp();                                   // iommufd_vevent_handler (iommufd_private.h): wake_up_interruptible
    }

    public override void Destroyed()
    {
        Viommu.RemoveVeventq(this);
        Viommu.Users--;
    }

    private readonly record struct Entry(uint Sequence, byte[]? Data);

    public override string FileName => $"[iommufd-viommu-event {Id}]";

    // eventq.c: iommufd_veventq_fops_read: at least one header, checked before any copy.
    public override long CheckCount(long count, long offset, bool write) =>
        !write && count < sizeof(iommufd_vevent_header) ? EngineDiagnostics.Fail(Errno.EINVAL, "a read must hold at least one header") : 0;

    /// <summary>Whole events only: as many as fit; EINVAL when not even the first one fits.</summary>
    public override long Read(Span<byte> buffer)
    {
        // At least one header: checked (CheckCount) before the caller's buffer was copied.
        int header = sizeof(iommufd_vevent_header);

        lock (Sync)
        {
            int done = 0;
            _lastRead.Clear();
            while (_deliver.First is LinkedListNode<Entry> next)
            {
                Entry entry = next.Value;
                int need = header + (entry.Data?.Length ?? 0);
                if (buffer.Length - done < need)
                {
                    if (done == 0 && entry.Data is not null)
                    {
                        return EngineDiagnostics.Fail(Errno.EINVAL, $"the next event needs {need} bytes, the read has {buffer.Length}");
                    }

                    // A lost-events header that does not fit goes back only onto an otherwise
                    // empty queue; with events behind it, the kernel drops it.
                    if (entry.Data is null && _deliver.Count > 1)
                    {
                        _deliver.RemoveFirst();
                    }

                    break;
                }

                var hdr = new iommufd_vevent_header
                {
                    flags = entry.Data is null ? (uint)iommu_veventq_flag.IOMMU_VEVENTQ_FLAG_LOST_EVENTS : 0,
                    sequence = entry.Sequence,
                };
                MemoryMarshal.Write(buffer[done..], in hdr);
                entry.Data?.CopyTo(buffer[(done + header)..]);
                _deliver.RemoveFirst();
                if (entry.Data is not null)
                {
                    _pending--;
                }

                _lastRead.Add(entry);
                done += need;
            }

            return done;
        }
    }

    public override int RecordLength(int index)
    {
        lock (Sync)
        {
            return index < _lastRead.Count ? sizeof(iommufd_vevent_header) + (_lastRead[index].Data?.Length ?? 0) : 0;
        }
    }

    // iommufd_veventq_fops_read: an event that could not be copied goes back to the head, still counted.
    public override void GiveBack(int index)
    {
        lock (Sync)
        {
            for (int k = _lastRead.Count - 1; k >= index; k--)
            {
                Entry entry = _lastRead[k];
                if (entry.Data is null)
                {
                    if (_lost.List is null)
                    {
                        _lost.Value = entry;
                        _deliver.AddFirst(_lost);
                    }
                }
                else
                {
                    _deliver.AddFirst(entry);
                    _pending++;
                }
            }

            _lastRead.RemoveRange(index, _lastRead.Count - index);
        }
    }

    public override short Ready()
    {
        lock (Sync)
        {
            return (short)(_deliver.Count > 0 ? LinuxConstants.POLLIN | LinuxConstants.POLLRDNORM : 0);
        }
    }
}
