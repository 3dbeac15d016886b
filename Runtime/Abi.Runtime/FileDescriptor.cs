using System.Runtime.InteropServices;
using System.Text;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Runtime;

/// <summary>
/// An open file descriptor of one backend. Closing goes back to the backend that opened it, so a
/// descriptor of the engine is never closed as a real one (and the reverse). Use <see cref="Lease"/>
/// to get the raw number for the duration of a call: the descriptor cannot be closed and reused meanwhile.
/// </summary>
public sealed class FileDescriptor : SafeHandle
{
    private FileDescriptor(IKernel kernel, int fd, string name)
        : base(invalidHandleValue: -1, ownsHandle: true)
    {
        Kernel = kernel;
        Name = name;
        SetHandle(fd);
    }

    /// <summary>The backend the descriptor belongs to.</summary>
    public IKernel Kernel { get; }

    /// <summary>What it is (a path, or a description such as <c>eventfd</c>), for messages.</summary>
    public string Name { get; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == -1;

    /// <summary>Opens <paramref name="path"/> read-write (close-on-exec) through <paramref name="kernel"/>.</summary>
    /// <exception cref="SyscallException">The open failed; for a missing /dev/iommu or /dev/vfio the message names the engine.</exception>
    public static FileDescriptor Open(IKernel kernel, string path, int flags = LinuxConstants.O_RDWR | LinuxConstants.O_CLOEXEC, int mode = 0)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentException.ThrowIfNullOrEmpty(path);
        int length = Encoding.UTF8.GetByteCount(path);
        Span<byte> utf8 = length < 512 ? stackalloc byte[length + 1] : new byte[length + 1];
        Encoding.UTF8.GetBytes(path, utf8);
        utf8[length] = 0;
        int fd = kernel.Open(utf8, flags, mode);
        if (fd < 0)
        {
            // The engine says why it refused (a group already open, a device in use); the kernel gets our hint.
            throw new SyscallException("open", path, (Errno)(-fd), Hint(kernel, path, (Errno)(-fd)) ?? kernel.LastErrorReason);
        }

        return new FileDescriptor(kernel, fd, path);
    }

    /// <summary>Takes ownership of a descriptor the backend already opened (eventfd, a device fd from a group).</summary>
    public static FileDescriptor Adopt(IKernel kernel, int fd, string name)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentOutOfRangeException.ThrowIfNegative(fd);
        return new FileDescriptor(kernel, fd, name);
    }

    /// <summary>Holds the descriptor open for one call and gives its number.</summary>
    /// <exception cref="ObjectDisposedException">The descriptor was closed.</exception>
    public Lease Borrow()
    {
        bool added = false;
        DangerousAddRef(ref added);
        return new Lease(this, added);
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Kernel.Close((int)handle) is 0 or -(int)Errno.EINTR;

    /// <inheritdoc/>
    public override string ToString() => $"{Name} (fd {(IsClosed ? "closed" : ((int)handle).ToString(System.Globalization.CultureInfo.InvariantCulture))}, {Kernel.Name})";

    private static string? Hint(IKernel kernel, string path, Errno errno)
    {
        if (errno != Errno.ENOENT || kernel is not LinuxKernel)
        {
            return null;
        }

        if (path.StartsWith("/dev/iommu", StringComparison.Ordinal))
        {
            return "this kernel has no iommufd (CONFIG_IOMMUFD, or the iommufd module is not loaded); the in-process engine (Abi.Engine, EmulatedKernel.Register()) serves the same API: set ABI_BACKEND=engine";
        }

        return path.StartsWith("/dev/vfio", StringComparison.Ordinal)
            ? "no VFIO device node here (is the device bound to vfio-pci?); the in-process engine (Abi.Engine, EmulatedKernel.Register()) serves the same API: set ABI_BACKEND=engine"
            : null;
    }

    /// <summary>A descriptor held open for the duration of a call. Dispose it when the call is done.</summary>
    public readonly ref struct Lease
    {
        private readonly FileDescriptor _owner;
        private readonly bool _added;

        internal Lease(FileDescriptor owner, bool added)
        {
            _owner = owner;
            _added = added;
        }

        /// <summary>The raw descriptor number.</summary>
        public int Fd => (int)_owner.DangerousGetHandle();

        /// <summary>Lets the descriptor be closed again.</summary>
        public void Dispose()
        {
            if (_added)
            {
                _owner.DangerousRelease();
            }
        }
    }
}
