using Abi.Engine.Iommufd;
using Abi.Engine.Process;

namespace Abi.Engine.Pci;

/// <summary>
/// A run of device DMA accesses under one hold of the port's lock and the IOAS's DMA scope (see
/// <see cref="DmaPort.BeginBurst"/>). Refused accesses are recorded as faults and answered with
/// <c>false</c>, as single accesses are. Dispose it to let detach and unmap proceed.
/// </summary>
public ref struct DmaBurst
{
    private readonly DmaPort _port;
    private readonly IoPagetable? _iopt;
    private readonly HwptPagingObject? _domain;
    private readonly UserMemory? _direct;
    private readonly bool _busMaster;
    private readonly IoPagetable.DmaScope _scope;
    private bool _open;

    internal DmaBurst(DmaPort port)
    {
        _port = port;
        port.Lock.EnterReadLock();
        _open = true;
        _busMaster = port.BusMaster;
        _iopt = port.Iopt;
        _domain = port.Domain;
        _direct = port.DirectMemory;
        if (_iopt is not null)
        {
            try
            {
                _scope = _iopt.BeginDma();
            }
            catch
            {
                port.Lock.ExitReadLock();    // never leave detach waiting on a burst that did not start
                _open = false;
                throw;
            }
        }
    }

    /// <summary>Reads device-visible memory; false if any byte was refused (the destination is then partly filled).</summary>
    public readonly bool Read(ulong iova, Span<byte> destination)
    {
        if (!_busMaster)
        {
            return _port.Refuse(new IommuFault(iova, false, IommuFaultReason.BusMasterDisabled));
        }

        if (_iopt is null)
        {
            return _direct is UserMemory memory ? _port.Direct(memory, iova, destination, write: false) : _port.Refuse(new IommuFault(iova, false, IommuFaultReason.Blocked));
        }

        return _iopt.CopyInScope(iova, destination, write: false) == destination.Length || _port.Refuse(_iopt.Faults.Last!.Value);
    }

    /// <summary>Writes device-visible memory; false if any byte was refused (the pages before it are written, as a device's burst would write them).</summary>
    public readonly bool Write(ulong iova, ReadOnlySpan<byte> source)
    {
        if (!_busMaster)
        {
            return _port.Refuse(new IommuFault(iova, true, IommuFaultReason.BusMasterDisabled));
        }

        // The copy loop only reads the buffer when the device writes memory; the span is never written through.
        Span<byte> buffer = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source), source.Length);
        if (_iopt is null)
        {
            return _direct is UserMemory memory ? _port.Direct(memory, iova, buffer, write: true) : _port.Refuse(new IommuFault(iova, true, IommuFaultReason.Blocked));
        }

        int done = _iopt.CopyInScope(iova, buffer, write: true);
        if (_domain is not null && _domain.Tracking && done > 0)
        {
            _domain.Dirty.Mark(iova, (ulong)done);
        }

        return done == source.Length || _port.Refuse(_iopt.Faults.Last!.Value);
    }

    /// <summary>Ends the burst.</summary>
    public void Dispose()
    {
        if (!_open)
        {
            return;
        }

        _open = false;
        if (_iopt is not null)
        {
            _scope.Dispose();
        }

        _port.Lock.ExitReadLock();
    }
}
