using System.Runtime.CompilerServices;
using Abi.Engine.Process;
using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Iommufd;

/// <summary>
/// An open <c>/dev/iommu</c>: one context with its object table. Every ioctl goes through
/// <see cref="Ioctl"/>, which applies the kernel's generic checks in the kernel's order (main.c: iommufd_fops_ioctl)
/// before a handler sees the argument; handlers then validate in one order: unknown flags and
/// reserved fields (EOPNOTSUPP), overflow (EOVERFLOW), semantics (EINVAL), lookups (ENOENT), then act.
/// A failed handler leaves the context as it was.
/// <para>
/// Locking, as the kernel's split of it: IOAS_MAP and IOAS_UNMAP take only their IOAS's IOVA lock
/// (<c>iopt->iova_rwsem</c>), so maps into different IOASes of one context run side by side; every
/// other handler holds the context exclusively (<see cref="EnterExclusive()"/>: the context lock, then
/// every IOAS's IOVA lock), so it never meets a map or unmap in flight. The unlocked handlers find
/// their IOAS in the object table as the last exclusive section left it (<see cref="ObjectTable.GetPublishedIoas"/>).
/// </para>
/// </summary>
internal sealed unsafe partial class IommufdFile : EngineFile
{
    /// <summary>An unlocked handler's answer when it must run again with the context held exclusively (before it changed anything).</summary>
    internal const int RetryExclusive = int.MinValue;

    private readonly HandlerLock _lock = new();
    private readonly List<IoasObject> _heldIoases = [];

    public IommufdFile(EmulatedKernel kernel, string name)
    {
        Kernel = kernel;
        Name = name;
    }

    /// <summary>
    /// Holds the context exclusively: its lock, then the IOVA lock of every IOAS it has (in id order;
    /// unlocked handlers take one IOVA lock and nothing after it, so no order can deadlock). On the
    /// outermost exit the object table is published to unlocked handlers, then the locks go.
    /// </summary>
    internal Exclusive EnterExclusive() => EnterExclusive(EngineThread.Current.Id);

    /// <summary>Holds the context exclusively for the thread <paramref name="me"/> (its <see cref="EngineThread.Id"/>).</summary>
    internal Exclusive EnterExclusive(int me)
    {
        if (_lock.Enter(me))
        {
            Objects.CollectIoases(_heldIoases);
            foreach (IoasObject ioas in _heldIoases)
            {
                ioas.Iopt.IovaLock.Enter(me);
            }
        }

        return new Exclusive(this);
    }

    private void ExitExclusive()
    {
        if (_lock.IsOutermost)
        {
            Objects.Publish();
            for (int i = _heldIoases.Count - 1; i >= 0; i--)
            {
                _heldIoases[i].Iopt.IovaLock.Exit();
            }

            _heldIoases.Clear();
        }

        _lock.Exit();
    }

    /// <summary>The context held exclusively; dispose to leave.</summary>
    internal readonly ref struct Exclusive(IommufdFile file)
    {
        public void Dispose() => file.ExitExclusive();
    }

    public EmulatedKernel Kernel { get; }

    public override string Name { get; }

    /// <summary>iommufd's misc devices: /dev/iommu (0660) and, serving the container API, /dev/vfio/vfio (0666, VFIO_MINOR).</summary>
    public override InodeAttributes Attributes => Name == "/dev/vfio/vfio" ? DevNodes.VfioContainer : DevNodes.Iommu;

    /// <summary>
    /// FMODE_PREAD/PWRITE, which every open of a char device gets unless its open makes it a stream
    /// (iommufd_fops_open does not): a pread or pwrite is then EINVAL for want of a read or write
    /// method, not ESPIPE.
    /// </summary>
    public override bool CanSeek => true;

    public ObjectTable Objects { get; } = new();

    /// <summary>The IOAS that VFIO container ioctls on this fd act on (IOMMU_VFIO_IOAS), if any.</summary>
    public IoasObject? CompatIoas { get; set; }

    /// <summary>"mm" accounting (VFIO-compatible) rather than "user"; IOMMU_OPTION_RLIMIT_MODE.</summary>
    public bool AccountMm { get; set; }

    // The argument's copy is written in full before a handler sees it (or the call fails first): no zeroing.
    [SkipLocalsInit]
    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        // The diagnostics were cleared by EmulatedKernel.Ioctl, the only caller.
        // main.c: iommufd_fops_ioctl. Only _IOC_NR picks the table slot (the type is checked through
        // the slot's full request code), and numbers outside the table go to the VFIO compat layer.
        uint nr = request & 0xFF;
        IoctlTable.Entry[]? test = Kernel.TestCommand;
        uint testNr = test is null ? 0 : test[0].Request & 0xFF;
        if (!IoctlTable.InRange(nr, testNr))
        {
            return VfioCompatIoctl(request, argument);
        }

        ref readonly IoctlTable.Entry entry = ref nr == testNr && test is not null ? ref test[0] : ref IoctlTable.Find(nr);
        ulong user = (ulong)argument;
        uint size;
        ulong stackRoom = UserAccess.StackRoom(thread, user);
        bool onStack = stackRoom >= sizeof(uint);
        if (onStack)
        {
            size = *(uint*)argument;
        }
        else if (!UserAccess.TryRead(user, out size))
        {
            return Fail(Errno.EFAULT, $"the argument's size word at 0x{user:X} cannot be read");
        }

        if (Unsafe.IsNullRef(in entry) || entry.Request != request)
        {
            return Fail(Errno.ENOTTY, $"0x{request:X} is not an iommufd ioctl (unused number, or type, direction or size bits set)");
        }

        if (size < entry.MinSize)
        {
            return Fail(Errno.EINVAL, $"size {size} is below the minimum {entry.MinSize} of {entry.Name}");
        }

        // The handler works on a zero-extended kernel-sized copy (copy_struct_from_user). An argument
        // on the caller's stack is copied directly, anything else through the checked copies.
        byte* copy = stackalloc byte[IoctlTable.MaxSize];
        var kernelCopy = new Span<byte>(copy, (int)entry.Size);
        int common = (int)Math.Min(size, entry.Size);
        onStack = onStack && stackRoom >= size;
        int copied;
        if (onStack)
        {
            copied = size > entry.Size && new ReadOnlySpan<byte>((byte*)argument + entry.Size, (int)(size - entry.Size)).ContainsAnyExcept((byte)0) ? -(int)Errno.E2BIG : 0;
            UserAccess.CopySmall(copy, (byte*)argument, common);
            if (common < kernelCopy.Length)
            {
                kernelCopy[common..].Clear();
            }
        }
        else
        {
            copied = UserAccess.CopyStructFromUser(kernelCopy, user, size);
        }

        if (copied != 0)
        {
            return copied == -(int)Errno.E2BIG
                ? Fail(Errno.E2BIG, $"bytes past the {entry.Size} that {entry.Name} understands are non-zero in the {size}-byte argument")
                : Fail(Errno.EFAULT, $"the {size}-byte argument at 0x{user:X} cannot be read");
        }

        var call = new IoctlCall { Respond = entry.Responds, User = user, NewFd = -1, Thread = thread.Id };
        int result;
        if (entry.Unlocked)
        {
            // IOAS_MAP/UNMAP lock their IOAS themselves; they create nothing, so a failed answer undoes nothing.
            result = entry.Handler(this, copy, ref call);
            if (result == RetryExclusive)
            {
                using (EnterExclusive(call.Thread))
                {
                    call.Exclusive = true;
                    result = entry.Handler(this, copy, ref call);
                }
            }

            return Respond(in entry, ref call, result, kernelCopy, common, onStack);
        }

        using (EnterExclusive(call.Thread))
        {
            Objects.BeginCall();
            call.Exclusive = true;
            result = entry.Handler(this, copy, ref call);
            return Respond(in entry, ref call, result, kernelCopy, common, onStack);
        }
    }

    /// <summary>
    /// iommufd_ucmd_respond: min(size, kernel size) bytes back; a failed copy is EFAULT, and an
    /// object the call created is aborted (iommufd_object_abort_and_destroy), its fd never installed.
    /// </summary>
    private int Respond(in IoctlTable.Entry entry, ref IoctlCall call, int result, Span<byte> kernelCopy, int common, bool onStack)
    {
        if (call.Respond && (result >= 0 || call.CopyOutOnError))
        {
            if (onStack)
            {
                fixed (byte* from = kernelCopy)
                {
                    UserAccess.CopyAnswer((byte*)call.User, from, common);
                }
            }
            else if (!UserAccess.TryWrite(call.User, kernelCopy[..common]))
            {
                AbortNew(in entry, ref call);
                result = Fail(Errno.EFAULT, $"the result cannot be written back to the argument at 0x{call.User:X}");
            }
        }

        return result;
    }

    /// <summary>
    /// Undoes what a call did when its answer could not reach the caller, as the kernel's handlers do
    /// after a failed iommufd_ucmd_respond: an allocation destroys its object (the ALLOC ioctls'
    /// out_* labels, iommufd_object_abort_and_destroy of ucmd->new_obj); a selftest op undoes what it
    /// names (<see cref="IoctlCall.Undo"/>, <see cref="IoctlCall.NewObject"/>); every other call keeps
    /// its effect and only answers EFAULT (IOAS_MAP keeps the mapping, MOCK_DOMAIN_REPLACE the domain).
    /// </summary>
    private void AbortNew(in IoctlTable.Entry entry, ref IoctlCall call)
    {
        if (call.Undo is { } undo)
        {
            undo();
        }

        if (call.NewFd >= 0)
        {
            _ = Kernel.Close(call.NewFd);
        }

        // An allocation makes one object (a handler that makes several names the one to undo, as the mock
        // domain does); destroying it undoes what hangs off it (a HWPT's IOAS link, a mock device's attach).
        IommufdObject? created = call.NewObject ?? (entry.Name.EndsWith("_ALLOC", StringComparison.Ordinal) ? Objects.AddedInCall : null);
        if (created is not null && Objects.Get(created.Id) == created)
        {
            Objects.Remove(created.Id);
            created.Destroyed();
        }
    }

    /// <summary>
    /// Closing the context destroys every object. A bound device keeps the context alive (VFIO
    /// holds a reference to the file), so then the objects go when the last device unbinds.
    /// </summary>
    public override void Release()
    {
        using (EnterExclusive())
        {
            _released = true;
            if (_bindings == 0)
            {
                DestroyAll();
            }
        }
    }

    private void DestroyAll()
    {
        // Dependents first (devices, what hangs off vIOMMUs, accesses, then HWPTs), then what they
        // used; HW queues newest first, as each depends on the one before it.
        foreach (ObjectKind pass in (ReadOnlySpan<ObjectKind>)[ObjectKind.Selftest, ObjectKind.HwQueue, ObjectKind.Vdevice, ObjectKind.Veventq, ObjectKind.Device, ObjectKind.Access, ObjectKind.HwptNested, ObjectKind.Viommu, ObjectKind.HwptPaging, ObjectKind.Ioas, ObjectKind.Fault])
        {
            foreach (IommufdObject value in Objects.All().Where(o => o.Kind == pass).Reverse().ToList())
            {
                Objects.Remove(value.Id);
                value.Destroyed();
            }
        }

        foreach (IommufdObject value in Objects.All().ToList())
        {
            Objects.Remove(value.Id);
            value.Destroyed();
        }

        CompatIoas = null;
    }

    /// <summary>Creates an access (VFIO does this when an emulated device binds) and returns it with its id.</summary>
    internal AccessObject CreateAccess(Action<ulong, ulong>? unmapped, bool pinsPages = true, bool locksAreas = false)
    {
        using (EnterExclusive())
        {
            var access = new AccessObject(this, unmapped) { Alignment = pinsPages ? Abi.Runtime.Kernel.LinuxConstants.PageSize : 1UL, LocksAreas = locksAreas };
            Objects.Add(access);
            return access;
        }
    }

    /// <summary>Destroys an access whose owner went away (a selftest access fd was closed); silent if the context destroyed it already.</summary>
    internal void DestroyAccess(AccessObject access)
    {
        using (EnterExclusive())
        {
            if (Objects.Get(access.Id) == access)
            {
                Objects.Remove(access.Id);
                access.Destroyed();
            }
        }
    }

    /// <summary>Detaches and deletes a mock device (its selftest object was destroyed).</summary>
    internal void DetachMock(DeviceObject device)
    {
        using (EnterExclusive())
        {
            DetachAllLocked(device);
            TombstoneVdevice(device);
            if (Objects.Get(device.Id) == device)
            {
                Objects.Remove(device.Id);
            }
        }
    }

    /// <summary>What a handler may tell the dispatcher besides its result.</summary>
    internal ref struct IoctlCall
    {
        /// <summary>Write the argument back even though the call failed (IOVA_RANGES with EMSGSIZE, HWPT_INVALIDATE).</summary>
        public bool CopyOutOnError;

        /// <summary>The handler answers through the argument (iommufd_ucmd_respond); preset from the table, a handler may change it.</summary>
        public bool Respond;

        /// <summary>The caller's argument address, for handlers that write single fields back (IOMMU_OPTION's val64).</summary>
        public ulong User;

        /// <summary>The object the call created, destroyed again if the answer cannot be written.</summary>
        public IommufdObject? NewObject;

        /// <summary>The fd the call created, closed again if the answer cannot be written (the kernel installs it only after).</summary>
        public int NewFd;

        /// <summary>What a selftest op does itself when its answer cannot be written (out_free_item, a PASID detach).</summary>
        public Action? Undo;

        /// <summary>The handler runs with the context held exclusively (every handler but an unlocked one's first try).</summary>
        public bool Exclusive;

        /// <summary>The calling thread's <see cref="EngineThread.Id"/>, for the locks the handler takes.</summary>
        public int Thread;
    }
}
