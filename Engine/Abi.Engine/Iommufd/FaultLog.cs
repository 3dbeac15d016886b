
namespace Abi.Engine.Iommufd;

/// <summary>
/// The faults a translation recorded, in a fixed ring (the newest overwrite the oldest), plus a
/// total count. Recording allocates nothing, so a faulting device in a poll loop costs no garbage.
/// </summary>
internal sealed class FaultLog
{
    private readonly IommuFault[] _ring = new IommuFault[64];
    private readonly Lock _lock = new();
    private long _count;

    /// <summary>Faults recorded since creation.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Record(ulong iova, bool write, IommuFaultReason reason)
    {
        lock (_lock)
        {
            _ring[_count % _ring.Length] = new IommuFault(iova, write, reason);
            _count++;
        }
    }

    /// <summary>The most recent fault, if any.</summary>
    public IommuFault? Last
    {
        get
        {
            lock (_lock)
            {
                return _count == 0 ? null : _ring[(_count - 1) % _ring.Length];
            }
        }
    }
}
