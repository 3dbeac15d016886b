using Abi.Engine.Pci;
using P = Abi.Linux.Pci.Constants;

namespace Abi.Engine.Vfio;

/// <summary>
/// Config space as vfio-pci shows it to the user of an open device (vfio_pci_config.c): a copy of
/// the function's config space taken at open (vconfig), a map of which capability owns each byte,
/// and per capability which bits are virtual and which writable (<see cref="ConfigPermissions"/>).
/// Virtual bits live in the copy; the others are the function's own (<see cref="PciConfigSpace"/>,
/// the device as QEMU models it), read and written through. The BARs answer the sizing protocol from
/// the copy, the command register's INTx disable is emulated, MSI is enabled by ioctl only, and
/// MSI-X's registers are the function's, read-only.
/// </summary>
internal sealed class VfioPciConfig
{
    private const byte Basic = 0, Invalid = 0xFF;

    private readonly PciDevice _model;
    private readonly InterruptController _interrupts;
    private readonly bool _virtualFunction;
    private readonly byte[] _vconfig;
    private readonly byte[] _map;
    private readonly ConfigPermissions? _msi;
    private readonly Lock _lock = new();
    private bool _barDirty = true;
    private bool _virqDisabled;

    private readonly VfioDmaBufs _dmaBufs;

    /// <summary>vfio_config_init: the copy and the map, from the function as it is now.</summary>
    public VfioPciConfig(PciDevice model, bool virtualFunction, VfioDmaBufs dmaBufs)
    {
        _model = model;
        _dmaBufs = dmaBufs;
        _interrupts = model.Interrupts;
        _virtualFunction = virtualFunction;
        int size = model.ConfigSize;
        _vconfig = new byte[size];
        _map = new byte[size];
        _map.AsSpan(0, P.PCI_STD_HEADER_SIZEOF).Clear();     // Basic
        _map.AsSpan(P.PCI_STD_HEADER_SIZEOF).Fill(Invalid);
        Fill(0, P.PCI_STD_HEADER_SIZEOF);

        if (virtualFunction)
        {
            // VFs have no INTx (the pin must read 0) and no memory enable of their own
            // (pdev->no_command_memory): the copy shows memory decoding on.
            _vconfig[P.PCI_INTERRUPT_PIN] = 0;
            _vconfig[P.PCI_COMMAND] |= (byte)P.PCI_COMMAND_MEMORY;
        }

        _msi = InitCapabilities();
    }

    /// <summary>__vfio_pci_memory_enabled: memory decoding as the user set it (always on for a VF).</summary>
    public bool MemoryEnabled => _virtualFunction || (Volatile.Read(ref _vconfig[P.PCI_COMMAND]) & P.PCI_COMMAND_MEMORY) != 0;   // one byte: no lock for a BAR access

    /// <summary>
    /// vfio_pci_config_rw_single, chunk after chunk: the caller has checked the range. A write copies
    /// each chunk from the caller as it goes, so only the first <paramref name="readable"/> bytes of
    /// <paramref name="buffer"/> are the caller's: the chunk that needs a byte past them is EFAULT, after
    /// the chunks before it took effect (vfio_pci_config_rw returns the error, not what was done), and a
    /// chunk without a write function is dropped without a copy. The bytes done, or -EFAULT.
    /// </summary>
    public int Access(Span<byte> buffer, int at, bool write, int readable)
    {
        lock (_lock)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                int pos = at + done;
                int count = Math.Min(buffer.Length - done, RemainingInDword(pos));
                count = count >= 4 && pos % 4 == 0 ? 4 : count >= 2 && pos % 2 == 0 ? 2 : 1;
                Span<byte> chunk = buffer.Slice(done, count);
                if (write && done + count > readable && PermissionsAt(pos).Perm.Kind != ConfigAccessKind.DirectReadOnly)
                {
                    return -(int)Abi.Interop.Errno.EFAULT;
                }

                if (write)
                {
                    Write(pos, count, (uint)Little(chunk));
                }
                else
                {
                    uint value = Read(pos, count);
                    for (int i = 0; i < count; i++)
                    {
                        chunk[i] = (byte)(value >> (8 * i));
                    }
                }

                done += count;
            }

            return done;
        }
    }

    // vfio_pci_cap_remaining_dword: up to the dword's end or the capability's, whichever is first.
    private int RemainingInDword(int pos)
    {
        byte cap = _map[pos];
        int i = 1;
        while ((pos + i) % 4 != 0 && pos + i < _map.Length && _map[pos + i] == cap)
        {
            i++;
        }

        return i;
    }

    private (ConfigPermissions Perm, int Start) PermissionsAt(int pos)
    {
        byte cap = _map[pos];
        if (cap == Invalid)
        {
            return (ConfigPermissions.Unassigned, pos);
        }

        if (cap == Basic && pos < P.PCI_STD_HEADER_SIZEOF)
        {
            return (ConfigPermissions.Basic, 0);
        }

        int start = pos;
        int floor = pos >= PciConfigSpace.Size ? PciConfigSpace.Size : P.PCI_STD_HEADER_SIZEOF;
        while (start - 1 >= floor && _map[start - 1] == cap)
        {
            start--;                                // vfio_find_cap_start
        }

        ConfigPermissions perm = cap switch
        {
            P.PCI_CAP_ID_MSI => _msi!,
            P.PCI_CAP_ID_PM => ConfigPermissions.PowerManagement,
            P.PCI_CAP_ID_EXP => ConfigPermissions.Express,
            P.PCI_CAP_ID_VNDR => ConfigPermissions.Vendor,
            _ => ConfigPermissions.DirectReadOnly,
        };
        return (perm, start);
    }

    private uint Read(int pos, int count)
    {
        (ConfigPermissions perm, int start) = PermissionsAt(pos);
        int offset = pos - start;
        switch (perm.Kind)
        {
            case ConfigAccessKind.Raw:
                return Hardware(pos, count);
            case ConfigAccessKind.DirectReadOnly or ConfigAccessKind.DirectRawWrite:
                uint value = Hardware(pos, count);
                if (pos >= P.PCI_STD_HEADER_SIZEOF && pos < PciConfigSpace.Size)
                {
                    // The id and next pointer come from the copy, where hidden capabilities are skipped.
                    if (offset == P.PCI_CAP_LIST_ID && count > 1)
                    {
                        value = (value & ~0xFFFFu) | Copy(pos, 2);
                    }
                    else if (offset == P.PCI_CAP_LIST_NEXT)
                    {
                        value = (value & ~0xFFu) | Copy(pos, 1);
                    }
                }

                return value;
        }

        if (perm == ConfigPermissions.Basic && IsBar(offset))
        {
            BarFixup();
        }

        // vfio_msi_config_read refreshes the queue size in the copy at the capability's start, not
        // at its flags; the bytes it changes there read from the function, so nothing shows.
        uint read = DefaultRead(pos, count, perm, offset);
        if (perm == ConfigPermissions.Basic && offset == P.PCI_COMMAND && _virtualFunction)
        {
            read |= _vconfig[P.PCI_COMMAND] & (uint)P.PCI_COMMAND_MEMORY;    // vfio_basic_config_read: a VF's virtual memory enable
        }

        return read;
    }

    private uint DefaultRead(int pos, int count, ConfigPermissions perm, int offset)
    {
        uint value = Copy(pos, count);
        uint virt = perm.Virtual(offset, count);
        uint all = count == 4 ? uint.MaxValue : (1u << (8 * count)) - 1;
        if (virt != all)
        {
            value = (Hardware(pos, count) & ~virt) | (value & virt);
        }

        return value;
    }

    private void Write(int pos, int count, uint value)
    {
        (ConfigPermissions perm, int start) = PermissionsAt(pos);
        int offset = pos - start;
        switch (perm.Kind)
        {
            case ConfigAccessKind.DirectReadOnly:
                return;                             // no writefn: the bytes are dropped unread
            case ConfigAccessKind.Raw or ConfigAccessKind.DirectRawWrite:
                HardwareWrite(pos, count, value);
                return;
        }

        if (perm == ConfigPermissions.Basic)
        {
            BasicWrite(pos, count, value, offset);
        }
        else if (perm == _msi)
        {
            MsiWrite(pos, count, value, offset, start);
        }
        else if (perm == ConfigPermissions.Express)
        {
            ExpressWrite(pos, count, value, offset, start);
        }
        else
        {
            DefaultWrite(pos, count, value, perm, offset);
        }
    }

    private void DefaultWrite(int pos, int count, uint value, ConfigPermissions perm, int offset)
    {
        uint write = perm.Writable(offset, count);
        if (write == 0)
        {
            return;
        }

        uint virt = perm.Virtual(offset, count);
        if ((write & virt) != 0)
        {
            uint copy = Copy(pos, count);
            copy = (copy & ~(write & virt)) | (value & write & virt);
            SetCopy(pos, count, copy);
        }

        if ((write & ~virt) != 0)
        {
            uint real = Hardware(pos, count);
            real = (real & ~(write & ~virt)) | (value & write & ~virt);
            HardwareWrite(pos, count, real);
        }
    }

    // vfio_basic_config_write: the command register's memory and I/O enables are remembered in the
    // copy, INTx disable masks and unmasks INTx, and a BAR write makes the BARs answer sizing again.
    // A write of the command register without memory enable revokes the device's dma-bufs first
    // (vfio_pci_dma_buf_move under memory_lock), and any write of it restores them after when memory
    // decodes then: so a VF, which always decodes, has its buffers revoked and restored.
    private void BasicWrite(int pos, int count, uint value, int offset)
    {
        if (offset == P.PCI_COMMAND)
        {
            lock (_dmaBufs.MemoryLock)
            {
                if ((value & P.PCI_COMMAND_MEMORY) == 0)
                {
                    _dmaBufs.Move(revoked: true);
                }

                DefaultWrite(pos, count, value, ConfigPermissions.Basic, offset);
                const int enables = P.PCI_COMMAND_MEMORY | P.PCI_COMMAND_IO;
                _vconfig[P.PCI_COMMAND] = (byte)((_vconfig[P.PCI_COMMAND] & ~enables) | (int)(value & enables));
                _dmaBufs.RestoreIf(() => MemoryEnabled);
            }
        }
        else
        {
            DefaultWrite(pos, count, value, ConfigPermissions.Basic, offset);
        }

        if (offset is P.PCI_COMMAND or P.PCI_COMMAND + 1)
        {
            bool disable = (Copy(P.PCI_COMMAND, 2) & P.PCI_COMMAND_INTX_DISABLE) != 0;
            if (disable != _virqDisabled)
            {
                _virqDisabled = disable;
                _interrupts.SetVirqDisabled(disable);
            }
        }

        if (IsBar(offset))
        {
            _barDirty = true;
        }
    }

    // vfio_msi_config_write: the flags go to the copy and to the function, with MSI enable cleared
    // unless the ioctl enabled MSI, and the queue size no larger than what the ioctl allocated.
    private void MsiWrite(int pos, int count, uint value, int offset, int start)
    {
        DefaultWrite(pos, count, value, _msi!, offset);
        if (offset <= P.PCI_MSI_FLAGS && offset + count >= P.PCI_MSI_FLAGS)
        {
            int at = start + P.PCI_MSI_FLAGS;
            uint flags = Copy(at, 2);
            if (_interrupts.Active != (int)Abi.Linux.Constants.VFIO_PCI_MSI_IRQ_INDEX)
            {
                flags &= ~(uint)P.PCI_MSI_FLAGS_ENABLE;
            }

            int qmax = _interrupts.MsiQueueMax;
            if ((flags & P.PCI_MSI_FLAGS_QSIZE) >> 4 > qmax)
            {
                flags = (flags & ~(uint)P.PCI_MSI_FLAGS_QSIZE) | (uint)(qmax << 4);
            }

            SetCopy(at, 2, flags);
            HardwareWrite(at, 2, flags);
        }
    }

    // vfio_exp_config_write: a set FLR bit is cleared, and a function that has FLR is reset with its
    // dma-bufs revoked around the reset.
    private void ExpressWrite(int pos, int count, uint value, int offset, int start)
    {
        DefaultWrite(pos, count, value, ConfigPermissions.Express, offset);
        int control = start + P.PCI_EXP_DEVCTL;
        uint devctl = Copy(control, 2);
        if ((devctl & P.PCI_EXP_DEVCTL_BCR_FLR) != 0)
        {
            SetCopy(control, 2, devctl & ~(uint)P.PCI_EXP_DEVCTL_BCR_FLR);
            if ((Hardware(start + P.PCI_EXP_DEVCAP, 4) & P.PCI_EXP_DEVCAP_FLR) != 0)
            {
                lock (_dmaBufs.MemoryLock)
                {
                    _dmaBufs.Move(revoked: true);
                    if (_model.CanReset)
                    {
                        _model.ResetFunction();
                    }

                    _dmaBufs.RestoreIf(() => MemoryEnabled);
                }
            }
        }
    }

    private static bool IsBar(int offset) =>
        (offset >= P.PCI_BASE_ADDRESS_0 && offset < P.PCI_BASE_ADDRESS_5 + 4) || (offset >= P.PCI_ROM_ADDRESS && offset < P.PCI_ROM_ADDRESS + 4);

    // vfio_bar_fixup: what was written, under each BAR's size mask and with its type bits; an absent
    // BAR reads 0. The ROM BAR keeps its enable bit.
    private void BarFixup()
    {
        if (!_barDirty)
        {
            return;
        }

        for (int i = 0; i < P.PCI_STD_NUM_BARS; i++)
        {
            int at = P.PCI_BASE_ADDRESS_0 + (4 * i);
            if (_model.Bars[i] is not PciBar bar)
            {
                SetCopy(at, 4, 0);
                continue;
            }

            ulong mask = ~(bar.Size - 1);
            // vfio_generate_bar_flags: the type from the resource's flags.
            uint type = bar.IsIo ? (uint)P.PCI_BASE_ADDRESS_SPACE_IO
                : (uint)(P.PCI_BASE_ADDRESS_SPACE_MEMORY | (bar.Prefetchable ? P.PCI_BASE_ADDRESS_MEM_PREFETCH : 0) | (bar.Is64 ? P.PCI_BASE_ADDRESS_MEM_TYPE_64 : 0));
            SetCopy(at, 4, (Copy(at, 4) & (uint)mask) | type);
            if (!bar.IsIo && bar.Is64)
            {
                SetCopy(at + 4, 4, Copy(at + 4, 4) & (uint)(mask >> 32));
                i++;
            }
        }

        ulong rom = _model.OptionRomSize;
        SetCopy(P.PCI_ROM_ADDRESS, 4, rom == 0 ? 0 : Copy(P.PCI_ROM_ADDRESS, 4) & ((uint)~(rom - 1) | P.PCI_ROM_ADDRESS_ENABLE));
        _barDirty = false;
    }

    // vfio_cap_init: walks the function's capability list, claims each capability's bytes in the map
    // and copies them; a capability of unknown length is left out of the chain the user sees.
    private ConfigPermissions? InitCapabilities()
    {
        if ((Hardware(P.PCI_STATUS, 2) & P.PCI_STATUS_CAP_LIST) == 0)
        {
            return null;
        }

        ConfigPermissions? msi = null;
        int prev = P.PCI_CAPABILITY_LIST, caps = 0;
        int pos = (int)Hardware(P.PCI_CAPABILITY_LIST, 1);
        for (int loops = (PciConfigSpace.Size - P.PCI_STD_HEADER_SIZEOF) / P.PCI_CAP_SIZEOF; pos != 0 && loops > 0; loops--)
        {
            byte cap = (byte)Hardware(pos, 1);
            int next = (int)Hardware(pos + P.PCI_CAP_LIST_NEXT, 1);
            int length = cap is > 0 and <= P.PCI_CAP_ID_MAX ? CapabilityLength(cap, pos) : 0;
            if (length == 0)
            {
                _vconfig[prev] = (byte)next;
                pos = next;
                continue;
            }

            if (cap == P.PCI_CAP_ID_MSI)
            {
                ushort flags = (ushort)Hardware(pos + P.PCI_MSI_FLAGS, 2);
                msi = ConfigPermissions.Msi(length, flags);
            }

            length = Math.Min(length, PciConfigSpace.Size - pos);
            _map.AsSpan(pos, length).Fill(cap);
            Fill(pos, length);
            if (cap == P.PCI_CAP_ID_PM)
            {
                // vfio_update_pm_vconfig_bytes: no PME for the user.
                SetCopy(pos + P.PCI_PM_PMC, 2, Copy(pos + P.PCI_PM_PMC, 2) & ~(uint)P.PCI_PM_CAP_PME_MASK);
                SetCopy(pos + P.PCI_PM_CTRL, 2, Copy(pos + P.PCI_PM_CTRL, 2) & ~(uint)(P.PCI_PM_CTRL_PME_ENABLE | P.PCI_PM_CTRL_PME_STATUS));
            }

            prev = pos + P.PCI_CAP_LIST_NEXT;
            pos = next;
            caps++;
        }

        if (caps == 0)
        {
            SetCopy(P.PCI_STATUS, 2, Copy(P.PCI_STATUS, 2) & ~(uint)P.PCI_STATUS_CAP_LIST);
        }

        return msi;
    }

    // pci_cap_length and vfio_cap_len, for the capabilities the engine's functions can have; the
    // others vfio-pci sizes from registers these functions do not model, and hides.
    private int CapabilityLength(byte cap, int pos) => cap switch
    {
        P.PCI_CAP_ID_PM => P.PCI_PM_SIZEOF,
        P.PCI_CAP_ID_AGP => P.PCI_AGP_SIZEOF,
        P.PCI_CAP_ID_VPD => P.PCI_CAP_VPD_SIZEOF,
        P.PCI_CAP_ID_MSI => ConfigPermissions.MsiLength((ushort)Hardware(pos + P.PCI_MSI_FLAGS, 2)),
        P.PCI_CAP_ID_MSIX => P.PCI_CAP_MSIX_SIZEOF,
        P.PCI_CAP_ID_VNDR => (int)Hardware(pos + P.PCI_CAP_FLAGS, 1),
        P.PCI_CAP_ID_EXP => P.PCI_CAP_EXP_ENDPOINT_SIZEOF_V2,
        P.PCI_CAP_ID_AF => P.PCI_CAP_AF_SIZEOF,
        _ => 0,
    };

    // vfio_fill_vconfig_bytes: the copy starts as the function's bytes.
    private void Fill(int pos, int length)
    {
        for (int i = 0; i < length; i++)
        {
            _vconfig[pos + i] = (byte)Hardware(pos + i, 1);
        }
    }

    private uint Copy(int pos, int count)
    {
        uint value = 0;
        for (int i = 0; i < count; i++)
        {
            value |= (uint)_vconfig[pos + i] << (8 * i);
        }

        return value;
    }

    private void SetCopy(int pos, int count, uint value)
    {
        for (int i = 0; i < count; i++)
        {
            _vconfig[pos + i] = (byte)(value >> (8 * i));
        }
    }

    // The function's own registers: legacy config space only; extended config space holds no
    // capabilities here and reads 0.
    private uint Hardware(int pos, int count) => pos < PciConfigSpace.Size ? _model.Config.Read(pos, Math.Min(count, PciConfigSpace.Size - pos)) : 0;

    private void HardwareWrite(int pos, int count, uint value)
    {
        if (pos < PciConfigSpace.Size)
        {
            _model.Config.Write(pos, Math.Min(count, PciConfigSpace.Size - pos), value);
        }
    }

    private static ulong Little(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            value |= (ulong)bytes[i] << (8 * i);
        }

        return value;
    }
}
