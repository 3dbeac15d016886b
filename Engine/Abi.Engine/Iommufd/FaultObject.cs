using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Iommufd;

/// <summary>
/// A fault queue (IOMMU_FAULT_QUEUE_ALLOC): page requests of devices attached to HWPTs that name it
/// are read from its fd as <c>iommu_hwpt_pgfault</c> records and answered by writing
/// <c>iommu_hwpt_page_response</c>. The open fd pins the object.
/// </summary>
internal sealed unsafe class FaultObject : EventQueueObject
{
    // Each request remembers the attachment that took it (device, and the PASID of the attach handle:
    // an unattached PASID's request taken by the RID's nested HWPT is the RID's).
    private readonly LinkedList<(iommu_hwpt_pgfault Fault, uint HandlePasid)> _pending = new();
    private readonly List<(iommu_hwpt_pgfault Fault, uint HandlePasid)> _lastRead = [];     // what the last read handed out, with cookies
    private readonly Dictionary<uint, (uint Device, uint HandlePasid)> _awaitingResponse = [];

    public override ObjectKind Kind => ObjectKind.Fault;

    /// <summary>Queues a fault record (devices call this when a page request arrives) for the attachment of <paramref name="handlePasid"/>.</summary>
    public void Report(in iommu_hwpt_pgfault fault, uint handlePasid)
    {
        lock (Sync)
        {
            _pending.AddLast((fault, handlePasid));
        }

        Waiters.WakeUp();                                   // iommufd_fault_iopf_handler: wake_up_interruptible
    }

    /// <summary>
    /// iommufd_auto_response_faults: the attachment of <paramref name="device"/>'s <paramref name="handlePasid"/>
    /// to a HWPT reporting here ends (detach or replace): its requests not yet read are dropped and those
    /// read but not answered are answered for the user (their cookies are no longer valid).
    /// </summary>
    public void AutoRespond(uint device, uint handlePasid)
    {
        lock (Sync)
        {
            for (LinkedListNode<(iommu_hwpt_pgfault Fault, uint HandlePasid)>? node = _pending.First; node is not null;)
            {
                LinkedListNode<(iommu_hwpt_pgfault Fault, uint HandlePasid)>? next = node.Next;
                if (node.Value.Fault.dev_id == device && node.Value.HandlePasid == handlePasid)
                {
                    _pending.Remove(node);
                }

                node = next;
            }

            foreach (uint cookie in _awaitingResponse.Where(a => a.Value == (device, handlePasid)).Select(a => a.Key).ToArray())
            {
                _awaitingResponse.Remove(cookie);
            }
        }
    }

    public override string FileName => $"[iommufd-fault {Id}]";

    public override bool Writable => true;

    public override unsafe int WriteRecord => sizeof(iommu_hwpt_page_response);

    // eventq.c: iommufd_fault_fops_read / _write: whole records only (ESPIPE), checked before any copy.
    public override long CheckCount(long count, long offset, bool write) =>
        count % (write ? WriteRecord : sizeof(iommu_hwpt_pgfault)) != 0
            ? EngineDiagnostics.Fail(Errno.ESPIPE, $"{(write ? "writes" : "reads")} must be whole records")
            : 0;

    // The count was checked (CheckCount) before the caller's buffer was copied.
    public override long Read(Span<byte> buffer)
    {
        int record = sizeof(iommu_hwpt_pgfault);
        lock (Sync)
        {
            int n = 0;
            _lastRead.Clear();
            while ((n + 1) * record <= buffer.Length && _pending.First is { } first)
            {
                (iommu_hwpt_pgfault next, uint handlePasid) = first.Value;
                _pending.RemoveFirst();
                // The cookie is given at delivery: the lowest one not awaiting a response, from 1.
                uint cookie = 1;
                while (_awaitingResponse.ContainsKey(cookie))
                {
                    cookie++;
                }

                next.cookie = cookie;
                System.Runtime.InteropServices.MemoryMarshal.Write(buffer[(n * record)..], in next);
                _awaitingResponse.Add(next.cookie, (next.dev_id, handlePasid));
                _lastRead.Add((next, handlePasid));
                n++;
            }

            // iommufd_fault_fops_read: a fault pending that the count leaves no room for, first of all, is EINVAL.
            return n == 0 && _pending.Count != 0 ? EngineDiagnostics.Fail(Errno.EINVAL, "the read has no room for the pending fault") : (long)n * record;
        }
    }

    public override int RecordLength(int index)
    {
        lock (Sync)
        {
            return index < _lastRead.Count ? sizeof(iommu_hwpt_pgfault) : 0;
        }
    }

    // iommufd_fault_fops_read: a fault that could not be copied loses its cookie and goes back to the head.
    public override void GiveBack(int index)
    {
        lock (Sync)
        {
            for (int k = _lastRead.Count - 1; k >= index; k--)
            {
                (iommu_hwpt_pgfault fault, uint handlePasid) = _lastRead[k];
                _awaitingResponse.Remove(fault.cookie);
                _pending.AddFirst((fault with { cookie = 0 }, handlePasid));
            }

            _lastRead.RemoveRange(index, _lastRead.Count - index);
        }
    }

    public override long Write(ReadOnlySpan<byte> buffer)
    {
        int record = WriteRecord;
        lock (Sync)
        {
            int done = 0;
            for (; done < buffer.Length / record; done++)
            {
                iommu_hwpt_page_response response = System.Runtime.InteropServices.MemoryMarshal.Read<iommu_hwpt_page_response>(buffer[(done * record)..]);
                Errno errno = response.code > (uint)iommufd_page_response_code.IOMMUFD_PAGE_RESP_INVALID
                    ? Errno.EINVAL
                    : _awaitingResponse.Remove(response.cookie) ? Errno.None : Errno.EINVAL;
                if (errno != Errno.None)
                {
                    return done > 0 ? (long)done * record : EngineDiagnostics.Fail(errno, $"response {done}: unknown cookie {response.cookie} or code {response.code}");
                }
            }

            return (long)done * record;
        }
    }

    public override short Ready()
    {
        lock (Sync)
        {
            return (short)(LinuxConstants.POLLOUT | (_pending.Count > 0 ? LinuxConstants.POLLIN | LinuxConstants.POLLRDNORM : 0));
        }
    }
}
