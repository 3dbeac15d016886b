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
/// A failed handler leaves the context as it was. One lock per context serialises the handlers.
/// </summary>
internal sealed unsafe partial class IommufdFile : EngineFile
{
    private readonly Lock _lock = new();
    private readonly Stack<Pages> _freePages = new();

    /// <summary>The context lock, for objects that act on the context outside an ioctl (accesses).</summary>
    internal Lock Sync => _lock;

    public IommufdFile(EmulatedKernel kernel, string name)
    {
        Kernel = kernel;
        Name = name;
    }

    public EmulatedKernel Kernel { get; }

    public override string Name { get; }

    public ObjectTable Objects { get; } = new();

    /// <summary>The IOAS that VFIO container ioctls on this fd act on (IOMMU_VFIO_IOAS), if any.</summary>
    public IoasObject? CompatIoas { get; set; }

    /// <summary>"mm" accounting (VFIO-compatible) rather than "user"; IOMMU_OPTION_RLIMIT_MODE.</summary>
    public bool AccountMm { get; set; }

    public override int Ioctl(uint request, nint argument)
    {
        Clear();
        uint type = (request >> 8) & 0xFF;
        uint nr = request & 0xFF;
        ref readonly IoctlTable.Entry entry = ref nr == IoctlTable.TestNr && Kernel.TestCommand is { } test ? ref test[0] : ref IoctlTable.Find(nr);
        if (type != IoctlTable.Type || Unsafe.IsNullRef(in entry))
        {
            // Numbers below the iommufd range (or past it) belong to the VFIO container compatibility layer.
            return VfioCompatIoctl(request, argument);
        }

        if (argument == 0)
        {
            return Fail(Errno.EFAULT, "the argument pointer is NULL");
        }

        uint size = *(uint*)argument;
        if (entry.Request != request)
        {
            return Fail(Errno.ENOTTY, $"0x{request:X} is not an iommufd ioctl (direction or size bits set)");
        }

        if (size < entry.MinSize)
        {
            return Fail(Errno.EINVAL, $"size {size} is below the minimum {entry.MinSize} of {entry.Name}");
        }

        byte* user = (byte*)argument;
        if (size > entry.Size && TailError(argument, entry, size) is int tail)
        {
            return tail;
        }

        // The handler works on a zero-extended kernel-sized copy; the caller gets min(size, kernel size) back.
        byte* copy = stackalloc byte[(int)entry.Size];
        uint common = Math.Min(size, entry.Size);
        new ReadOnlySpan<byte>(user, (int)common).CopyTo(new Span<byte>(copy, (int)entry.Size));
        new Span<byte>(copy + common, (int)(entry.Size - common)).Clear();

        var call = new IoctlCall();
        int result;
        lock (_lock)
        {
            result = entry.Handler(this, copy, ref call);
        }

        if (result >= 0 || call.CopyOutOnError)
        {
            new ReadOnlySpan<byte>(copy, (int)common).CopyTo(new Span<byte>(user, (int)common));
        }

        return result;
    }

    /// <summary>
    /// The bytes past the kernel's struct must be zero (E2BIG otherwise). They are read through
    /// <see cref="UserAccess"/> in bounded chunks, so a huge or lying <c>size</c> gives EFAULT, not a crash.
    /// </summary>
    private static int? TailError(nint argument, in IoctlTable.Entry entry, uint size)
    {
        Span<byte> chunk = stackalloc byte[256];
        for (ulong at = entry.Size; at < size; at += (ulong)chunk.Length)
        {
            int n = (int)Math.Min((ulong)chunk.Length, size - at);
            if (!UserAccess.TryRead((ulong)argument + at, chunk[..n]))
            {
                return Fail(Errno.EFAULT, $"the {size}-byte argument cannot be read past byte {at}");
            }

            int nonZero = chunk[..n].IndexOfAnyExcept((byte)0);
            if (nonZero >= 0)
            {
                return Fail(Errno.E2BIG, $"byte {at + (ulong)nonZero} of the {size}-byte argument is non-zero past the {entry.Size} bytes {entry.Name} understands");
            }
        }

        return null;
    }

    /// <summary>
    /// Closing the context destroys every object. A bound device keeps the context alive (VFIO
    /// holds a reference to the file), so then the objects go when the last device unbinds.
    /// </summary>
    public override void Release()
    {
        lock (_lock)
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
        lock (_lock)
        {
            var access = new AccessObject(this, unmapped) { Alignment = pinsPages ? Abi.Runtime.Kernel.LinuxConstants.PageSize : 1UL, LocksAreas = locksAreas };
            Objects.Add(access);
            return access;
        }
    }

    /// <summary>Destroys an access whose owner went away (a selftest access fd was closed); silent if the context destroyed it already.</summary>
    internal void DestroyAccess(AccessObject access)
    {
        lock (_lock)
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
        lock (_lock)
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
    }
}
