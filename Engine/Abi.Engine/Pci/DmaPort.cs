using Abi.Engine.Iommufd;
using Abi.Engine.Process;

namespace Abi.Engine.Pci;

/// <summary>
/// A device's DMA path: IOVA reads and writes translated by the page table the driver attached
/// the device to (through VFIO), with the IOMMU's permission checks. A refused access is recorded
/// as a fault (<see cref="Faults"/>, <see cref="LastFault"/>) and reported as <c>false</c>; nothing
/// is thrown into the device model, and nothing outside the driver's mappings is touched. Writes
/// set dirty bits while the domain tracks them.
/// </summary>
/// <remarks>
/// Attach, replace and detach take the port's lock for writing, accesses take it for reading, so a
/// detach returns only after the DMA in flight finished, and none starts on the old table after it.
/// </remarks>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The lock lives as long as the device model; a port is never torn down while DMA may run.")]
public sealed unsafe class DmaPort
{
    private readonly PciConfigSpace _config;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly Lock _faultLock = new();
    private IoPagetable? _iopt;
    private HwptPagingObject? _domain;
    private UserMemory? _direct;
    private long _faults;
    private IommuFault _lastFault;

    internal DmaPort(PciConfigSpace config) => _config = config;

    /// <summary>Whether the device is attached to a page table (otherwise every access faults as blocked).</summary>
    public bool IsAttached => Volatile.Read(ref _iopt) is not null || Volatile.Read(ref _direct) is not null;

    /// <summary>Accesses refused since the device was created.</summary>
    public long Faults => Interlocked.Read(ref _faults);

    /// <summary>The most recent refused access.</summary>
    public IommuFault? LastFault
    {
        get
        {
            lock (_faultLock)
            {
                return _faults == 0 ? null : _lastFault;
            }
        }
    }

    /// <summary>Reads device-visible memory at <paramref name="iova"/>; false if any byte was refused (the destination is then partly filled).</summary>
    public bool Read(ulong iova, Span<byte> destination)
    {
        using DmaBurst burst = BeginBurst();
        return burst.Read(iova, destination);
    }

    /// <summary>Writes device-visible memory at <paramref name="iova"/>; false if any byte was refused (the bytes before it are written, as a device's burst would be).</summary>
    public bool Write(ulong iova, ReadOnlySpan<byte> source)
    {
        using DmaBurst burst = BeginBurst();
        return burst.Write(iova, source);
    }

    /// <summary>
    /// Starts a burst: many accesses under one hold of the port and the page table (a doorbell's
    /// worth of descriptor and packet transfers), which saves the locking per access. Detach,
    /// replace and unmap wait until the burst is disposed, so keep it short and never block in it.
    /// </summary>
    public DmaBurst BeginBurst() => new(this);

    /// <summary>Points the port at a page table (attach or replace); waits for DMA in flight.</summary>
    internal void Attach(IoPagetable iopt, HwptPagingObject? domain)
    {
        _lock.EnterWriteLock();
        _iopt = iopt;
        _domain = domain;
        _lock.ExitWriteLock();
    }

    /// <summary>No-IOMMU mode: DMA addresses are host addresses; only memory the engine knows is reachable.</summary>
    internal void AttachDirect(UserMemory memory)
    {
        _lock.EnterWriteLock();
        _iopt = null;
        _domain = null;
        _direct = memory;
        _lock.ExitWriteLock();
    }

    /// <summary>Blocks the device's DMA; waits for DMA in flight.</summary>
    internal void Detach()
    {
        _lock.EnterWriteLock();
        _iopt = null;
        _domain = null;
        _direct = null;
        _lock.ExitWriteLock();
    }

    internal ReaderWriterLockSlim Lock => _lock;

    internal IoPagetable? Iopt => _iopt;

    internal HwptPagingObject? Domain => _domain;

    internal UserMemory? DirectMemory => _direct;

    internal bool BusMaster => _config.BusMaster;

    internal bool Direct(UserMemory memory, ulong address, Span<byte> buffer, bool write)
    {
        memory.Lock.EnterReadLock();
        try
        {
            if (!memory.Contains(address, (ulong)buffer.Length))
            {
                return Refuse(new IommuFault(address, write, IommuFaultReason.UnknownMemory));
            }

            var host = new Span<byte>((void*)address, buffer.Length);
            if (write)
            {
                buffer.CopyTo(host);
            }
            else
            {
                host.CopyTo(buffer);
            }

            return true;
        }
        finally
        {
            memory.Lock.ExitReadLock();
        }
    }

    internal bool Refuse(IommuFault fault)
    {
        lock (_faultLock)
        {
            _lastFault = fault;
            _faults++;
        }

        return false;
    }
}
