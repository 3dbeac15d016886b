using Abi.Engine.Native;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Pci;

/// <summary>
/// The interrupt side of a VFIO PCI device: which index (INTx, MSI, MSI-X) is active, the eventfd
/// of every vector, the INTx mask, and the ERR/REQ eventfds; VFIO_DEVICE_SET_IRQS acts on it with
/// vfio-pci's rules and errnos (vfio_pci_intrs.c: vfio_pci_set_irqs_ioctl). Eventfds are duplicated on assignment, as the kernel
/// takes its own reference, so the caller may close its fd. Signalling writes 1 to the eventfd.
/// </summary>
internal sealed class InterruptController(PciDevice device)
{
    private const int None = -1;
    private readonly Lock _lock = new();
    private readonly int[][] _fds = [[], [], [], [None], [None]];
    private int _active = None;
    private volatile bool _intxMasked;   // ctx->masked; also cleared by the unmask eventfd's handler, which takes no lock
    private volatile Virqfd? _intxUnmask;   // ctx->unmask: an eventfd whose signals unmask INTx
    private volatile bool _intxLine;        // the function's INTx line: level-triggered, up until the device lowers it
    private volatile bool _virqDisabled;    // vdev->virq_disabled: the user set INTx disable in the command register

    /// <summary>Vectors of <paramref name="index"/> (GET_IRQ_INFO count).</summary>
    public int Count(uint index) => index switch
    {
        Constants.VFIO_PCI_INTX_IRQ_INDEX => device.Config.Read(Abi.Linux.Pci.Constants.PCI_INTERRUPT_PIN, 1) != 0 ? 1 : 0,
        Constants.VFIO_PCI_MSI_IRQ_INDEX => device.MsiVectors,
        Constants.VFIO_PCI_MSIX_IRQ_INDEX => device.MsixVectors,
        Constants.VFIO_PCI_ERR_IRQ_INDEX => device.IsExpress ? 1 : 0,       // AER exists only on PCI Express
        Constants.VFIO_PCI_REQ_IRQ_INDEX => 1,
        _ => 0,
    };

    /// <summary>The active index (INTx, MSI or MSI-X), or -1.</summary>
    public int Active
    {
        get
        {
            lock (_lock)
            {
                return _active;
            }
        }
    }

    /// <summary>
    /// vdev->msi_qmax: log2 of the MSI vectors the last MSI enable allocated (fls(nvec * 2 - 1) - 1), the
    /// largest queue size a config write may set. Kept across disables, as vfio-pci keeps it.
    /// </summary>
    public int MsiQueueMax { get; private set; }

    /// <summary>SET_IRQS after the generic checks: dispatch by index and action.</summary>
    public int Set(uint flags, uint index, uint start, uint count, ReadOnlySpan<byte> data)
    {
        uint action = flags & (uint)Constants.VFIO_IRQ_SET_ACTION_TYPE_MASK;
        lock (_lock)
        {
            return (index, action) switch
            {
                (Constants.VFIO_PCI_INTX_IRQ_INDEX, (uint)Constants.VFIO_IRQ_SET_ACTION_MASK) => IntxMask(flags, start, count, data, mask: true),
                (Constants.VFIO_PCI_INTX_IRQ_INDEX, (uint)Constants.VFIO_IRQ_SET_ACTION_UNMASK) => IntxMask(flags, start, count, data, mask: false),
                (Constants.VFIO_PCI_INTX_IRQ_INDEX, (uint)Constants.VFIO_IRQ_SET_ACTION_TRIGGER) => IntxTrigger(flags, start, count, data),
                (Constants.VFIO_PCI_MSI_IRQ_INDEX or Constants.VFIO_PCI_MSIX_IRQ_INDEX, (uint)Constants.VFIO_IRQ_SET_ACTION_TRIGGER) => MsiTrigger((int)index, flags, start, count, data),
                (Constants.VFIO_PCI_ERR_IRQ_INDEX or Constants.VFIO_PCI_REQ_IRQ_INDEX, (uint)Constants.VFIO_IRQ_SET_ACTION_TRIGGER) => SingleTrigger((int)index, flags, start, count, data),
                _ => Fail(Errno.ENOTTY, $"action 0x{action:X} is not supported on IRQ index {index}"),
            };
        }
    }

    /// <summary>Delivers interrupt <paramref name="vector"/> through the active index.</summary>
    public bool Raise(int vector)
    {
        lock (_lock)
        {
            switch (_active)
            {
                case (int)Constants.VFIO_PCI_MSI_IRQ_INDEX or (int)Constants.VFIO_PCI_MSIX_IRQ_INDEX:
                    // MSI and MSI-X are memory writes by the device: no bus mastering, no message.
                    int[] fds = _fds[_active];
                    return device.Config.BusMaster && (uint)vector < (uint)fds.Length && Signal(fds[vector]);
                case (int)Constants.VFIO_PCI_INTX_IRQ_INDEX:
                    SetLine(true);
                    return IntxHandler();
                default:
                    SetLine(true);           // the line is up whether or not anyone listens
                    return false;
            }
        }
    }

    /// <summary>
    /// The function lowers its INTx line (its interrupt status was acknowledged). A line still up when
    /// the user unmasks INTx interrupts again at once; a lowered one waits for the next raise.
    /// </summary>
    public void LowerIntx() => SetLine(false);

    private void SetLine(bool asserted)
    {
        _intxLine = asserted;
        device.Config.SetInterruptStatus(asserted);
    }

    /// <summary>Whether INTx is masked (ctx->masked): automasked by an interrupt, until an unmask finds the line down.</summary>
    public bool IntxMasked => _intxMasked;

    // vfio_intx_handler: the line is up and INTx not masked: vfio-pci masks it (pci_check_and_mask_intx)
    // and signals the trigger, unless the user disabled INTx in the command register.
    private bool IntxHandler()
    {
        if (_active != (int)Constants.VFIO_PCI_INTX_IRQ_INDEX || !_intxLine || _intxMasked)
        {
            return false;
        }

        _intxMasked = true;
        return SendIntx();
    }

    // vfio_send_intx_eventfd: nothing while the user has INTx disabled.
    private bool SendIntx() => _active == (int)Constants.VFIO_PCI_INTX_IRQ_INDEX && !_virqDisabled && Signal(_fds[0][0]);

    // vfio_pci_intx_unmask_handler and __vfio_pci_intx_unmask: a line still up keeps INTx masked and
    // is sent again (pci_check_and_unmask_intx finds it pending); otherwise INTx is unmasked.
    private void IntxUnmask()
    {
        if (_active != (int)Constants.VFIO_PCI_INTX_IRQ_INDEX || !_intxMasked || _virqDisabled)
        {
            return;
        }

        if (_intxLine)
        {
            SendIntx();
        }
        else
        {
            _intxMasked = false;
        }
    }

    /// <summary>
    /// The command register's INTx disable, as the user wrote it (vfio_basic_config_write's emulation):
    /// set, INTx is masked and sends nothing; cleared, it is unmasked as an UNMASK would.
    /// </summary>
    public void SetVirqDisabled(bool disabled)
    {
        lock (_lock)
        {
            _virqDisabled = disabled;
            if (disabled)
            {
                if (_active == (int)Constants.VFIO_PCI_INTX_IRQ_INDEX)
                {
                    _intxMasked = true;
                }
            }
            else
            {
                IntxUnmask();
            }
        }
    }

    /// <summary>Disables everything and drops every eventfd (close of the device, reset of its state).</summary>
    public void Release()
    {
        lock (_lock)
        {
            DisableActive();
            _virqDisabled = false;
            for (int index = 3; index < 5; index++)
            {
                Replace(ref _fds[index][0], None);
            }
        }
    }

    private int IntxMask(uint flags, uint start, uint count, ReadOnlySpan<byte> data, bool mask)
    {
        if (_active != (int)Constants.VFIO_PCI_INTX_IRQ_INDEX || start != 0 || count != 1)
        {
            return Fail(Errno.EINVAL, "INTx is not enabled, or start/count are not 0/1");
        }

        if ((flags & Constants.VFIO_IRQ_SET_DATA_EVENTFD) != 0)
        {
            if (mask)
            {
                return Fail(Errno.ENOTTY, "MASK with an eventfd is not implemented (vfio_pci_set_intx_mask)");
            }

            // vfio_pci_set_intx_unmask: an fd sets the unmask eventfd (vfio_virqfd_enable: the fd is checked
            // before the slot, which must be empty: EBUSY); a negative one takes it away.
            int fd = BitConverter.ToInt32(data);
            if (fd < 0)
            {
                _intxUnmask?.Disable();
                _intxUnmask = null;
                return 0;
            }

            if (Virqfd.Create(fd, UnmaskFromEventfd, out Virqfd? unmask) is int failed)
            {
                return failed;
            }

            if (_intxUnmask is not null)
            {
                unmask!.Disable();
                return Fail(Errno.EBUSY, "INTx has an unmask eventfd already");
            }

            _intxUnmask = unmask;
            int armed = unmask!.Arm();
            if (armed != 0)
            {
                _intxUnmask = null;
                unmask.Disable();
            }

            return armed;
        }

        if ((flags & Constants.VFIO_IRQ_SET_DATA_NONE) != 0 || data[0] != 0)
        {
            if (mask)
            {
                _intxMasked = true;                 // __vfio_pci_intx_mask
            }
            else
            {
                IntxUnmask();
            }
        }

        return 0;
    }

    private int IntxTrigger(uint flags, uint start, uint count, ReadOnlySpan<byte> data)
    {
        const int Intx = (int)Constants.VFIO_PCI_INTX_IRQ_INDEX;
        if (_active == Intx && count == 0 && (flags & Constants.VFIO_IRQ_SET_DATA_NONE) != 0)
        {
            DisableActive();
            return 0;
        }

        if ((_active != Intx && _active != None) || start != 0 || count != 1)
        {
            return Fail(Errno.EINVAL, _active != Intx && _active != None ? $"IRQ index {_active} is active" : "INTx takes start 0, count 1");
        }

        if ((flags & Constants.VFIO_IRQ_SET_DATA_EVENTFD) != 0)
        {
            int fd = BitConverter.ToInt32(data);
            int dup = None;
            if (fd >= 0 && AcquireEventfd(fd, out dup) is int failed)
            {
                return failed;
            }

            bool enabling = _active != Intx;
            if (enabling)
            {
                // vfio_intx_enable: masked as the user's INTx disable says.
                _fds[Intx] = [None];
                _active = Intx;
                _intxMasked = _virqDisabled;
            }

            Replace(ref _fds[Intx][0], dup);
            if (enabling)
            {
                IntxHandler();                      // request_irq on a line already up
            }

            return 0;
        }

        if (_active != Intx)
        {
            return Fail(Errno.EINVAL, "INTx is not enabled");
        }

        if ((flags & Constants.VFIO_IRQ_SET_DATA_NONE) != 0 || data[0] != 0)
        {
            SendIntx();
        }

        return 0;
    }

    /// <summary>vfio_pci_set_msi_trigger: disable, enable with a block of eventfds, change a block, or loop back.</summary>
    private int MsiTrigger(int index, uint flags, uint start, uint count, ReadOnlySpan<byte> data)
    {
        if (_active == index && count == 0 && (flags & Constants.VFIO_IRQ_SET_DATA_NONE) != 0)
        {
            DisableActive();
            return 0;
        }

        if (_active != index && _active != None)
        {
            return Fail(Errno.EINVAL, $"IRQ index {_active} is active; disable it first");
        }

        if ((flags & Constants.VFIO_IRQ_SET_DATA_EVENTFD) != 0)
        {
            ReadOnlySpan<int> fds = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, int>(data)[..(int)count];
            if (_active == index)
            {
                return SetBlock(index, start, fds);
            }

            // vfio_msi_enable: pci_alloc_irq_vectors(pdev, 1, start + count) refuses to allocate nothing.
            if (start + count == 0)
            {
                return Fail(Errno.ERANGE, "enabling MSI/MSI-X with no vectors (start + count is 0)");
            }

            _fds[index] = new int[start + count];
            Array.Fill(_fds[index], None);
            _active = index;
            if (index == (int)Constants.VFIO_PCI_MSI_IRQ_INDEX)
            {
                MsiQueueMax = System.Numerics.BitOperations.Log2((2 * (start + count)) - 1);   // fls(nvec * 2 - 1) - 1
            }
            else
            {
                device.Config.SetMsixEnabled(true);        // the host's msix_capability_init sets the function's enable bit
            }

            int rc = SetBlock(index, start, fds);
            if (rc != 0)
            {
                DisableActive();
            }

            return rc;
        }

        if (_active != index)
        {
            return Fail(Errno.EINVAL, $"IRQ index {index} is not enabled");
        }

        for (int i = 0; i < count; i++)
        {
            if ((int)start + i < _fds[index].Length && ((flags & Constants.VFIO_IRQ_SET_DATA_NONE) != 0 || data[i] != 0))
            {
                Signal(_fds[index][(int)start + i]);
            }
        }

        return 0;
    }

    /// <summary>vfio_msi_set_block: vector by vector; a failure sets every vector it reached, its own included, to none.</summary>
    private int SetBlock(int index, uint start, ReadOnlySpan<int> fds)
    {
        int rc = 0, reached = 0;
        while (reached < fds.Length && rc == 0)
        {
            rc = SetVectorSignal(index, start + (uint)reached, fds[reached]);
            reached++;
        }

        if (rc != 0)
        {
            for (int k = 0; k < reached; k++)
            {
                SetVectorSignal(index, start + (uint)k, None);
            }
        }

        return rc;
    }

    /// <summary>
    /// vfio_msi_set_vector_signal: the vector's old eventfd goes first; a negative fd stops there. A
    /// vector past those enabled is then allocated for MSI-X (dynamic allocation, vfio_msi_alloc_irq)
    /// and refused for MSI (pci_irq_vector: EINVAL); the eventfd is checked last.
    /// </summary>
    private int SetVectorSignal(int index, uint vector, int fd)
    {
        if (vector < (uint)_fds[index].Length)
        {
            Replace(ref _fds[index][vector], None);
        }

        if (fd < 0)
        {
            return 0;
        }

        if (vector >= (uint)_fds[index].Length)
        {
            if (index != (int)Constants.VFIO_PCI_MSIX_IRQ_INDEX)
            {
                return Fail(Errno.EINVAL, $"MSI vector {vector} is past the {_fds[index].Length} enabled");
            }

            int[] grown = new int[vector + 1];
            Array.Fill(grown, None);
            _fds[index].CopyTo(grown, 0);
            _fds[index] = grown;
        }

        if (AcquireEventfd(fd, out int dup) is int failed)
        {
            return failed;
        }

        _fds[index][vector] = dup;
        return 0;
    }

    private int SingleTrigger(int index, uint flags, uint start, uint count, ReadOnlySpan<byte> data)
    {
        if (start != 0 || count > 1)
        {
            return Fail(Errno.EINVAL, "ERR and REQ take start 0 and count ≤ 1");
        }

        ref int slot = ref _fds[index][0];
        if ((flags & Constants.VFIO_IRQ_SET_DATA_NONE) != 0)
        {
            if (slot == None)
            {
                return Fail(Errno.EINVAL, "no eventfd is set");
            }

            if (count != 0)
            {
                Signal(slot);
            }
            else
            {
                Replace(ref slot, None);
            }

            return 0;
        }

        if (count == 0)
        {
            return Fail(Errno.EINVAL, "count is 0");
        }

        if ((flags & Constants.VFIO_IRQ_SET_DATA_BOOL) != 0)
        {
            if (data[0] != 0)
            {
                Signal(slot);
            }

            return 0;
        }

        int fd = BitConverter.ToInt32(data);
        int dup = None;
        if (fd >= 0 && AcquireEventfd(fd, out dup) is int failed)
        {
            return failed;
        }

        if (fd < -1)
        {
            return Fail(Errno.EINVAL, $"eventfd {fd} is neither an fd nor -1");     // vfio_pci_set_ctx_trigger_single falls through
        }

        Replace(ref slot, dup);
        return 0;
    }

    private void DisableActive()
    {
        if (_active == None)
        {
            return;
        }

        foreach (ref int fd in _fds[_active].AsSpan())
        {
            Replace(ref fd, None);
        }

        _intxUnmask?.Disable();                                  // vfio_virqfd_disable(&ctx->unmask)
        _intxUnmask = null;

        if (_active == (int)Constants.VFIO_PCI_MSIX_IRQ_INDEX)
        {
            device.Config.SetMsixEnabled(false);
        }

        _fds[_active] = _active == (int)Constants.VFIO_PCI_INTX_IRQ_INDEX ? [None] : [];
        _active = None;
        _intxMasked = false;
    }

    /// <summary>eventfd_ctx_fdget: EBADF for a closed fd, EINVAL for one that is not an eventfd; else a reference of our own.</summary>
    internal static int? AcquireEventfd(int fd, out int dup)
    {
        dup = None;
        string? target;
        try
        {
            target = new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            target = null;
        }

        if (target is null)
        {
            return Fail(Errno.EBADF, $"fd {fd} is not open");
        }

        if (target != "anon_inode:[eventfd]")
        {
            return Fail(Errno.EINVAL, $"fd {fd} is not an eventfd ({target})");
        }

        dup = Libc.DupOwn(fd);
        return dup < 0 ? Fail(Errno.EMFILE, "cannot take a reference to the eventfd") : null;
    }

    private static void Replace(ref int slot, int fd)
    {
        if (slot >= 0)
        {
            VirqfdWatcher.Forget(slot);
            LinuxKernel.Instance.Close(slot);
        }

        slot = fd;
    }

    private static bool Signal(int fd)
    {
        if (fd < 0)
        {
            return false;
        }

        if (VirqfdWatcher.TakeEngineSignal(fd))               // the kernel's virqfds wake inside eventfd_signal
        {
            return true;
        }

        Span<byte> one = stackalloc byte[8];
        BitConverter.TryWriteBytes(one, 1UL);
        return LinuxKernel.Instance.Write(fd, one) == 8;
    }

    /// <summary>
    /// vfio_pci_intx_unmask_handler, when the unmask eventfd is signalled: INTx is unmasked, if this is
    /// still its eventfd. Without the controller's lock: the signal may come from inside it (a loopback
    /// whose trigger is this eventfd), and a disable under it waits for this handler.
    /// </summary>
    private void UnmaskFromEventfd(Virqfd virqfd)
    {
        // Under the controller's lock, as vfio_pci_intx_unmask_handler runs under irqlock, so a raise
        // cannot fall between the look at the line and the unmask. A disable holds the lock while it
        // waits for this handler: then the wait times out and the unmask is retried off this thread,
        // where it finds the virqfd gone.
        if (_lock.TryEnter(TimeSpan.FromMilliseconds(50)))
        {
            try
            {
                if (_intxUnmask == virqfd)
                {
                    IntxUnmask();
                }
            }
            finally
            {
                _lock.Exit();
            }

            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(
            state =>
            {
                lock (_lock)
                {
                    if (_intxUnmask == state)
                    {
                        IntxUnmask();
                    }
                }
            },
            virqfd,
            preferLocal: false);
    }
}
