using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Abi.Engine.Iommufd;
using Abi.Engine.Pci;
using Abi.Engine.Process;
using Abi.Engine.Sysfs;
using Abi.Engine.Vfio;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine;

/// <summary>
/// The in-process engine: serves <c>/dev/iommu</c> (and, as it grows, the VFIO nodes of emulated
/// devices) ioctl by ioctl, errno by errno, as the kernel does. Engine files get real descriptor
/// numbers (reserved from <c>/dev/null</c>), so they never collide with real ones; every other fd
/// and call goes to the real kernel untouched. Memory the engine maps with <see cref="Mmap"/> is
/// recorded as user memory it may pin; other addresses it never dereferences.
/// </summary>
public sealed partial class EmulatedKernel : IKernel, IMmioProvider
{
    private readonly FdTable _files = new();
    private readonly List<EngineFile> _deferredPuts = [];
    private int _deferredCount;
    private readonly List<EmulatedDevice> _devices = [];

    /// <summary>Creates an engine; <paramref name="containerBackend"/> says which kernel serves <c>/dev/vfio/vfio</c>.</summary>
    public EmulatedKernel(ContainerBackend containerBackend = ContainerBackend.Iommufd) => ContainerBackend = containerBackend;

    /// <summary>The process-wide engine, handed out as <c>engine</c> once <see cref="Register"/> ran.</summary>
    public static EmulatedKernel Shared { get; } = new();

    /// <summary>
    /// Makes <see cref="Backend"/> hand out <paramref name="factory"/>'s engine (by default
    /// <see cref="Shared"/>) as <c>engine</c>: the runtime names no engine, so an application that
    /// wants one says so once, before the first <see cref="Backend.Default"/>.
    /// </summary>
    public static void Register(Func<EmulatedKernel>? factory = null) => Backend.RegisterEngine(factory ?? (() => Shared));

    /// <summary>Which kernel the container imitates: legacy type1, or iommufd's compat layer (the default, as on kernels built with IOMMUFD_VFIO_CONTAINER).</summary>
    public ContainerBackend ContainerBackend { get; }

    /// <summary>
    /// The vfio module's <c>enable_unsafe_noiommu_mode</c>: devices registered with <c>noIommu</c>
    /// then appear as <c>/dev/vfio/noiommu-G</c> groups. UNSAFE by design: their DMA addresses are
    /// host addresses and nothing isolates them; the engine still refuses memory it does not know.
    /// </summary>
    public bool EnableUnsafeNoIommu { get; set; }

    /// <summary>
    /// The VT-d unit in front of the emulated functions: the engine's own (scalable mode, dirty
    /// tracking) or, when set, QEMU's <c>intel-iommu</c> with its defaults (legacy mode, no dirty
    /// tracking, its capability registers), to answer as a QEMU guest's kernel does.
    /// </summary>
    public bool VtdAsQemu { get; set; }

    internal IommuUnit VtdUnit => VtdAsQemu ? VtdIommu.Qemu : VtdIommu.Engine;

    /// <summary>type1's <c>dma_entry_limit</c> module parameter (mappings per container).</summary>
    public int Type1DmaEntryLimit { get; set; } = 65535;

    /// <inheritdoc/>
    public string Name => "engine";

    /// <inheritdoc/>
    public string? LastErrorReason => EngineDiagnostics.LastReason;

    /// <summary>How many engine files are open (for leak checks).</summary>
    public int OpenFiles => _files.Count;

    internal UserMemory Memory { get; } = new();

    /// <summary>Pinned-memory accounting: the locked and pinned page counters, RLIMIT_MEMLOCK and CAP_IPC_LOCK as the engine applies them.</summary>
    public PinAccounting Accounting { get; } = new();

    /// <summary>The engine's failure points, for fail-nth sweeps.</summary>
    public FaultInjection Faults { get; } = new();

    /// <summary>
    /// The kernel's <c>CONFIG_IOMMUFD_TEST</c>: when set (by <c>Abi.Engine.Selftest</c>), iommufd
    /// files answer <c>IOMMU_TEST_CMD</c> through this one-entry table. Null by default, as in the kernel.
    /// </summary>
    internal IoctlTable.Entry[]? TestCommand { get; set; }

    /// <summary>
    /// A task's <c>fail-nth</c> file under <c>/proc</c> opens as the engine's (see
    /// <see cref="FailNthFile"/>), so fail-nth sweeps written for the kernel reach the engine's
    /// failure points. Off by default: the path is then the real kernel's.
    /// </summary>
    public bool ServeFailNth { get; set; }

    /// <summary>
    /// Whether <c>mmap</c> of a register BAR gives inaccessible pages whose faults the caller turns into
    /// register accesses (<see cref="MmioAccess"/>), rather than ENODEV. On for C programs under the
    /// interposer, whose fault handler does that; off for C# drivers, which use MapRegion.
    /// </summary>
    public bool TrapBarMappings { get; set; }

    private readonly BarTraps _barTraps = new();

    /// <summary>Whether every BAR mmap overlapping [start, start + length) is decoded by its device now (see BarTraps.Decoded).</summary>
    internal bool BarMappingsDecoded(ulong start, ulong length) => _barTraps.Decoded(start, length);

    /// <summary>
    /// A load or store of <paramref name="size"/> bytes that faulted at <paramref name="address"/> in a
    /// trapped BAR mapping: performed on the device model (a store writes <paramref name="value"/>, a
    /// load returns into it). <see cref="MmioResult.BusError"/> while the device does not decode it
    /// (vfio_pci_vmf_insert_pfn answers SIGBUS with memory decoding off or in low power).
    /// </summary>
    public MmioResult MmioAccess(ulong address, int size, bool write, ref ulong value)
    {
        if (size is not (1 or 2 or 4 or 8) || !_barTraps.TryFind(address, size, out IMmioHandler? handler, out long offset, out bool decoding))
        {
            return MmioResult.NotTrapped;
        }

        if (!decoding)
        {
            return MmioResult.BusError;
        }

        if (write)
        {
            handler!.Write(offset, size, value);
        }
        else
        {
            value = handler!.Read(offset, size);
        }

        return MmioResult.Performed;
    }

    /// <summary>Told (fd, open) whenever an engine fd is handed out or released, including fds made inside ioctls.</summary>
    public Action<int, bool>? DescriptorsChanged
    {
        get => _files.Changed;
        set => _files.Changed = value;
    }

    /// <summary>
    /// Accepts memory the program allocated without the engine: an address outside the known
    /// ranges is looked up in <c>/proc/self/maps</c> (readable-writable mappings count).
    /// <paramref name="mappingCounter"/> must change whenever the process unmaps or replaces memory,
    /// so what was learned is dropped; the interposer bumps it on munmap, mremap and MAP_FIXED.
    /// </summary>
    public unsafe void DiscoverUserMemory(long* mappingCounter)
    {
        ArgumentNullException.ThrowIfNull(mappingCounter);
        Memory.EnableDiscovery(mappingCounter);
    }

    /// <summary>
    /// Takes the pid whose memory user copies reach from <paramref name="pid"/> instead of the pid
    /// at start: a process that forks keeps a copy of the engine in the child, and the interposer
    /// writes the child's pid there (a pthread_atfork handler).
    /// </summary>
    public static unsafe void FollowProcessId(int* pid)
    {
        ArgumentNullException.ThrowIfNull(pid);
        UserAccess.FollowProcessId(pid);
    }

    /// <summary>Declares memory the caller allocated itself as usable for DMA mappings.</summary>
    public void RegisterUserMemory(nint address, ulong length) => Memory.Add((ulong)address, length);

    /// <summary>The devices registered so far.</summary>
    public IReadOnlyList<PciDevice> Devices
    {
        get
        {
            lock (_devices)
            {
                return _devices.ConvertAll(d => d.Model);
            }
        }
    }

    /// <summary>
    /// Registers an emulated PCI function: it appears as the next <c>/dev/vfio/devices/vfioN</c> and
    /// in an IOMMU group of its own, <c>/dev/vfio/G</c>.
    /// </summary>
    /// <param name="device">The device model.</param>
    /// <param name="noIommu">Register it as a device without an IOMMU (needs <see cref="EnableUnsafeNoIommu"/>): a <c>noiommu-G</c> group, no cdev.</param>
    public EmulatedDeviceInfo AddDevice(PciDevice device, bool noIommu = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (noIommu && !EnableUnsafeNoIommu)
        {
            throw new InvalidOperationException("no-IOMMU devices need EnableUnsafeNoIommu (the kernel's enable_unsafe_noiommu_mode)");
        }

        lock (_devices)
        {
            if (_devices.Exists(d => d.Model == device))
            {
                throw new InvalidOperationException($"{device.Name} is registered already");
            }

            int index = FreeIndex();
            var node = new EmulatedDevice(device, index, index, noIommu);
            _devices.Add(node);
            return new EmulatedDeviceInfo(noIommu ? null : node.CdevPath, node.GroupPath, node.Group, node.PciName);
        }
    }

    /// <inheritdoc/>
    public bool TryGetMmioHandler(int fd, long offset, long length, out IMmioHandler? handler)
    {
        handler = _files.Get(fd) is VfioDeviceFile device ? device.MmioHandler(offset, length) : null;
        return handler is not null;
    }

    /// <inheritdoc/>
    public int Open(ReadOnlySpan<byte> path, int flags, int mode)
    {
        EngineDiagnostics.Clear();
        if (path.IsEmpty || path[^1] != 0)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, "the path is not NUL-terminated");
        }

        string name = Encoding.UTF8.GetString(path[..^1]);
        return OpenPath(name, path, flags, mode);
    }

    /// <summary>
    /// dup(2) (fcntl F_DUPFD, or F_DUPFD_CLOEXEC with <paramref name="closeOnExec"/>): a new number for
    /// the same file, the lowest free one; closing either leaves the file open. A real fd goes to the kernel.
    /// </summary>
    public int Dup(int fd, bool closeOnExec = false)
    {
        EngineDiagnostics.Clear();
        int copy = Native.Libc.Dup(fd, closeOnExec);
        if (copy < 0)
        {
            return -Marshal.GetLastPInvokeError();
        }

        Duplicated(fd, copy);
        return copy;
    }

    /// <summary>
    /// After dup, dup2, dup3 or fcntl(F_DUPFD) made <paramref name="copy"/> from <paramref name="fd"/> on
    /// the reserved numbers (the interposer makes the real call, which chooses the number, its flags
    /// and its errors): the copy names fd's file, and an engine file the copy replaced loses a reference.
    /// </summary>
    public void Duplicated(int fd, int copy)
    {
        _files.Duplicated(fd, copy);
        RunDeferredPuts();                          // a file the copy replaced may have been the last holder of others
    }

    /// <summary>
    /// do_dentry_open's file for an engine node: the access mode and status flags the open asked for
    /// (f_flags, which fcntl's F_GETFL shows) and close-on-exec only with O_CLOEXEC, all carried by the
    /// descriptor's reserved number.
    /// </summary>
    private int Install(EngineFile file, int flags)
    {
        file.AccessMode = flags & LinuxConstants.O_ACCMODE;
        return _files.Add(file, (flags & LinuxConstants.O_CLOEXEC) != 0, flags & FdTable.StatusFlags);
    }

    private int OpenPath(string name, ReadOnlySpan<byte> path, int flags, int mode)
    {
        return name switch
        {
            "/dev/iommu" => Install(new IommufdFile(this, name), flags),
            _ when name.StartsWith("/dev/vfio/devices/", StringComparison.Ordinal) => OpenCdev(name, flags),
            "/dev/vfio/vfio" => Install(ContainerBackend == ContainerBackend.Type1 ? new VfioContainerFile(this) : new IommufdFile(this, name) { AccountMm = true }, flags),
            _ when name.StartsWith("/dev/vfio/", StringComparison.Ordinal) => OpenGroup(name, flags),
            _ when name.StartsWith("/dev/vfio", StringComparison.Ordinal) => EngineDiagnostics.Fail(Errno.ENOENT, $"{name}: the engine has no such node"),
            _ when ServeFailNth && FailNthFile.Matches(name) => Install(new FailNthFile(Faults), flags),
            _ when SysfsView.Owns(name) => OpenSysfs(name, flags),
            _ => LinuxKernel.Instance.Open(path, flags, mode),
        };
    }

    /// <inheritdoc/>
    public int ReadLink(ReadOnlySpan<byte> path, Span<byte> buffer)
    {
        EngineDiagnostics.Clear();
        if (path.IsEmpty || path[^1] != 0)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, "the path is not NUL-terminated");
        }

        string name = Encoding.UTF8.GetString(path[..^1]);
        if (!SysfsView.Owns(name))
        {
            return LinuxKernel.Instance.ReadLink(path, buffer);
        }

        int rc = SysfsView.Resolve(SysfsTree(), name, followLast: false, out SysfsNode? node);
        if (rc < 0)
        {
            return EngineDiagnostics.Fail((Errno)(-rc), $"{name}: not in the engine's sysfs");
        }

        if (node is not SysfsLink link)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, $"{name} is not a symbolic link");
        }

        // readlink(2): the target without a NUL, cut to the buffer.
        byte[] target = Encoding.UTF8.GetBytes(link.Target);
        int n = Math.Min(target.Length, buffer.Length);
        target.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    /// <inheritdoc/>
    public long GetDents64(int fd, Span<byte> buffer)
    {
        EngineDiagnostics.Clear();
        return _files.Get(fd) is EngineFile file ? file.GetDents64(buffer) : LinuxKernel.Instance.GetDents64(fd, buffer);
    }

    private SysfsDirectory SysfsTree()
    {
        lock (_devices)
        {
            return SysfsView.Build([.. _devices], EnableUnsafeNoIommu, this);
        }
    }

    // kernfs's open: a directory only read-only (EISDIR), O_DIRECTORY only on one (ENOTDIR), a
    // write only where the attribute has a store method (EACCES), nothing created (EACCES).
    private int OpenSysfs(string name, int flags)
    {
        SysfsDirectory root = SysfsTree();
        bool noFollow = (flags & LinuxConstants.O_NOFOLLOW) != 0;
        int rc = SysfsView.Resolve(root, name, followLast: !noFollow, out SysfsNode? node);
        if (rc == -(int)Errno.ENOENT && (flags & LinuxConstants.O_CREAT) != 0)
        {
            return EngineDiagnostics.Fail(Errno.EACCES, $"{name}: sysfs creates no files");
        }

        if (rc < 0)
        {
            return EngineDiagnostics.Fail((Errno)(-rc), $"{name}: not in the engine's sysfs");
        }

        int access = flags & LinuxConstants.O_ACCMODE;
        switch (node)
        {
            case SysfsLink:
                return EngineDiagnostics.Fail(Errno.ELOOP, $"{name} is a symbolic link and O_NOFOLLOW was given");
            case SysfsDirectory directory:
                if (access != LinuxConstants.O_RDONLY)
                {
                    return EngineDiagnostics.Fail(Errno.EISDIR, $"{name} is a directory");
                }

                SysfsView.Resolve(root, name + "/..", followLast: true, out SysfsNode? parent);
                return Install(new SysfsDirectoryFile(name, directory, parent?.Inode ?? directory.Inode), flags);
            case SysfsAttribute attribute:
                if ((flags & LinuxConstants.O_DIRECTORY) != 0)
                {
                    return EngineDiagnostics.Fail(Errno.ENOTDIR, $"{name} is not a directory");
                }

                bool write = access != LinuxConstants.O_RDONLY;
                if (write && attribute.Write is null)
                {
                    return EngineDiagnostics.Fail(Errno.EACCES, $"{name} is read-only");
                }

                if (access != LinuxConstants.O_WRONLY && !attribute.Readable)
                {
                    return EngineDiagnostics.Fail(Errno.EACCES, $"{name} is write-only");
                }

                return Install(new SysfsAttributeFile(name, attribute, readable: access != LinuxConstants.O_WRONLY, writable: write), flags);
            default:
                return EngineDiagnostics.Fail(Errno.ENOENT, $"{name}: not in the engine's sysfs");
        }
    }

    /// <summary>The device whose cdev <paramref name="name"/> is, while vfio-pci has it (a no-IOMMU device has none).</summary>
    private EmulatedDevice? CdevNode(string name)
    {
        lock (_devices)
        {
            return _devices.Find(d => d.CdevPath == name && d.BoundToVfio && !d.NoIommu);
        }
    }

    /// <summary>The device whose group node <paramref name="name"/> is, while vfio-pci has it.</summary>
    private EmulatedDevice? GroupNode(string name)
    {
        lock (_devices)
        {
            return _devices.Find(d => d.GroupPath == name && d.BoundToVfio);
        }
    }

    private int OpenCdev(string name, int flags) =>
        CdevNode(name) is EmulatedDevice node
            ? Install(new VfioCdevFile(this, node), flags)
            : EngineDiagnostics.Fail(Errno.ENOENT, $"{name}: no emulated device has this node ({_devices.Count} registered)");

    private int OpenGroup(string name, int flags)
    {
        EmulatedDevice? node = GroupNode(name);
        if (node is null)
        {
            return EngineDiagnostics.Fail(Errno.ENOENT, $"{name}: no such group");
        }

        lock (node.Sync)
        {
            if (node.NoIommu && !ProcessCapabilities.Has(ProcessCapabilities.CAP_SYS_RAWIO))
            {
                return EngineDiagnostics.Fail(Errno.EPERM, "no-IOMMU groups need CAP_SYS_RAWIO");
            }

            if (node.Owner is VfioCdevFile || node.GroupOpen)
            {
                return EngineDiagnostics.Fail(Errno.EBUSY, node.GroupOpen ? $"{name} is open already (one opener)" : $"the device of {name} is bound through its cdev");
            }

            var group = new VfioGroupFile(this, node);
            int fd = Install(group, flags);
            if (fd >= 0)
            {
                node.OpenGroup = group;
            }

            return fd;
        }
    }

    /// <inheritdoc/>
    public int Close(int fd)
    {
        EngineDiagnostics.Clear();
        int rc = _files.Contains(fd) ? _files.Remove(fd) : LinuxKernel.Instance.Close(fd);
        RunDeferredPuts();
        return rc;
    }

    /// <inheritdoc/>
    public int Ioctl(int fd, uint request, nint argument)
    {
        EngineThread thread = EngineThread.Current;
        thread.LastReason = null;
        if (_files.Get(fd) is not EngineFile file)
        {
            return LinuxKernel.Instance.Ioctl(fd, request, argument);
        }

        // fs/ioctl.c: do_vfs_ioctl answers these four for every file before its driver sees the call. They
        // act on the descriptor and its open file, which an engine fd holds on /dev/null (FdTable), so the
        // real kernel answers them there: close-on-exec, O_NONBLOCK, and FASYNC (ENOTTY to turn it on,
        // as for iommufd and VFIO files, which have no fasync). The others it answers first (FIGETBSZ,
        // FIEMAP, FIFREEZE, FICLONE, ...) depend on the file's filesystem and still reach the engine file.
        if ((request & 0xFFFF_FF00) == 0x5400 && request is LinuxConstants.FIOCLEX or LinuxConstants.FIONCLEX or LinuxConstants.FIONBIO or LinuxConstants.FIOASYNC)
        {
            return LinuxKernel.Instance.Ioctl(fd, request, argument);
        }

        int rc = file.Ioctl(thread, request, argument);
        if (Volatile.Read(ref _deferredCount) != 0)
        {
            RunDeferredPuts();
        }

        return rc;
    }

    /// <summary>
    /// fput from inside a call: the release runs when the call returns to the caller, as the kernel's
    /// task work does, never inside the handler that dropped the reference (which holds its locks).
    /// </summary>
    internal void DeferPut(EngineFile file)
    {
        lock (_deferredPuts)
        {
            _deferredPuts.Add(file);
            _deferredCount = _deferredPuts.Count;
        }
    }

    private void RunDeferredPuts()
    {
        while (Volatile.Read(ref _deferredCount) != 0)
        {
            EngineFile[] files;
            lock (_deferredPuts)
            {
                files = [.. _deferredPuts];
                _deferredPuts.Clear();
                _deferredCount = 0;
            }

            foreach (EngineFile file in files)
            {
                file.Put();
            }
        }
    }

    /// <inheritdoc/>
    public nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset)
    {
        EngineFile? file = fd >= 0 ? _files.Get(fd) : null;
        if (file is not null && MmapError(file, length, protection, flags, offset) is int refused)
        {
            return refused;
        }

        if (file is VfioDeviceFile device)
        {
            return MmapBar(device, address, length, protection, flags, offset);
        }

        if (file is IommufdFile context)
        {
            Replacing(address, length, flags);
            return context.Mmap(address, length, protection, flags, offset);
        }

        if (file is DmaBufFile)
        {
            // dma_buf_mmap_internal: neither exporter the engine has gives its buffers an mmap operation.
            return EngineDiagnostics.Fail(Errno.EINVAL, "this dma-buf's exporter has no mmap");
        }

        if (file is not null)
        {
            return EngineDiagnostics.Fail(Errno.ENODEV, "this engine file cannot be mapped");
        }

        // Only readable and writable anonymous memory becomes DMA-able: a device write into a
        // read-only or inaccessible page would fault this process rather than the IOMMU.
        const int ReadWrite = LinuxConstants.PROT_READ | LinuxConstants.PROT_WRITE;
        Replacing(address, length, flags);
        nint result = LinuxKernel.Instance.Mmap(address, length, protection, flags, fd, offset);
        if (result > 0 && (flags & LinuxConstants.MAP_ANONYMOUS) != 0 && (protection & ReadWrite) == ReadWrite)
        {
            Memory.Add((ulong)result, length);
        }

        return result;
    }

    /// <summary>
    /// An mmap of a device fd (vfio_pci_core_mmap): any page range of a memory BAR. A memory BAR maps
    /// the device's own pages, which the engine may reach but iommufd will not pin; a register BAR,
    /// for a program under the interposer, maps pages nothing can touch, so that each access faults
    /// into the interposer, which performs it on the model.
    /// </summary>
    private nint MmapBar(VfioDeviceFile device, nint address, nuint length, int protection, int flags, long offset)
    {
        ulong span = LinuxConstants.PageAlign((ulong)length);
        // do_mmap: a shared mapping of a file not open for writing is not VM_SHARED, which vfio refuses.
        int shared = device.OpenedForWriting ? flags : flags & ~LinuxConstants.MAP_SHARED;
        if (device.MmapRegion(offset, span, shared, out PciBar? bar, out long inBar) is int refused and < 0)
        {
            return refused;
        }

        if (bar!.Handler is not PciMemory && !TrapBarMappings)
        {
            return EngineDiagnostics.Fail(Errno.ENODEV, "this BAR is a trapped register file, not memory: map it with VfioDevice.MapRegion, or use pread/pwrite");
        }

        Replacing(address, length, flags);
        EmulatedDevice owner = device.Device;
        Func<bool> decoding = () => owner.Config is not VfioPciConfig open || (open.MemoryEnabled && !owner.LowPowerEngaged);
        if (bar.Handler is PciMemory memory)
        {
            nint mapped = LinuxKernel.Instance.Mmap(address, length, protection, flags, memory.FileDescriptor, inBar);
            if (mapped > 0)
            {
                Memory.AddPeer((ulong)mapped, span, protection);
                _barTraps.Add((ulong)mapped, span, handler: null, inBar, decoding);
            }

            return mapped;
        }

        nint reserved = LinuxKernel.Instance.Mmap(address, length, LinuxConstants.PROT_NONE, LinuxConstants.MAP_PRIVATE | LinuxConstants.MAP_ANONYMOUS | (flags & LinuxConstants.MAP_FIXED), -1, 0);
        if (reserved > 0)
        {
            // The vma is whole pages: an access anywhere in the last one reaches the registers. A mapping
            // that outlives the device fd keeps the device open in the kernel, so it still answers then.
            Memory.AddPeer((ulong)reserved, span, protection);
            _barTraps.Add((ulong)reserved, span, bar.Handler, inBar, decoding);
        }

        return reserved;
    }

    /// <summary>
    /// A MAP_FIXED mapping replaces what its range held, whatever the new mapping is: that memory is
    /// forgotten first (waiting for DMA in flight), as munmap's is, so no device reaches the new pages
    /// through the old range's standing.
    /// </summary>
    private void Replacing(nint address, nuint length, int flags)
    {
        if ((flags & LinuxConstants.MAP_FIXED) != 0)
        {
            ForgetMemory(address, length);
        }
    }

    /// <inheritdoc/>
    public int Munmap(nint address, nuint length)
    {
        EngineDiagnostics.Clear();

        // Forget the range first (waiting for DMA in flight), then unmap it for real.
        ForgetMemory(address, length);
        return LinuxKernel.Instance.Munmap(address, length);
    }

    /// <summary>
    /// Forgets [address, address + length) before the program's own munmap, MAP_FIXED mmap or mremap
    /// takes it away (the interposer calls this for those it sees): no DMA reaches it afterwards, no
    /// mapping pins it, and its BAR traps are gone.
    /// </summary>
    public void ForgetMemory(nint address, nuint length)
    {
        // munmap's own checks first: an unaligned start or an empty range unmaps nothing (EINVAL), and
        // the range is whole pages.
        if (length == 0 || ((ulong)address & (LinuxConstants.PageSize - 1)) != 0)
        {
            return;
        }

        ulong span = LinuxConstants.PageAlign((ulong)length);
        if (span == 0 || span > ulong.MaxValue - (ulong)address)
        {
            return;                                 // rounds past the address space: EINVAL
        }

        Memory.Remove((ulong)address, span);
        _barTraps.Remove((ulong)address, span);
    }

    /// <summary>
    /// The checks mmap makes before a file's own mmap (mm/mmap.c: the syscall's offset alignment, then
    /// do_mmap: a zero or too large length, pgoff overflow, the mapping type, the file's access mode).
    /// </summary>
    private static int? MmapError(EngineFile file, nuint length, int protection, int flags, long offset)
    {
        const int MapType = 0x0f, MapSharedValidate = 0x03;
        if ((offset & (LinuxConstants.PageSize - 1)) != 0)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, $"offset 0x{offset:X} is not page aligned");
        }

        if (length == 0)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, "length is zero");
        }

        ulong pages = ((ulong)length + LinuxConstants.PageSize - 1) / LinuxConstants.PageSize;
        if ((ulong)length > ulong.MaxValue - LinuxConstants.PageSize + 1)
        {
            return EngineDiagnostics.Fail(Errno.ENOMEM, "length rounds past the address space");
        }

        ulong pgoff = (ulong)offset / LinuxConstants.PageSize;
        if (pgoff + pages < pgoff)
        {
            return EngineDiagnostics.Fail(Errno.EOVERFLOW, "offset + length wraps");
        }

        // do_mmap's switch on the type: a shared writable mapping needs FMODE_WRITE, every mapping
        // FMODE_READ (EACCES), before it asks whether the file can be mapped at all (ENODEV).
        int type = flags & MapType;
        if (type is not (LinuxConstants.MAP_SHARED or LinuxConstants.MAP_PRIVATE or MapSharedValidate))
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, $"mapping type 0x{type:X} is neither shared nor private");
        }

        if (type != LinuxConstants.MAP_PRIVATE && (protection & LinuxConstants.PROT_WRITE) != 0 && !file.OpenedForWriting)
        {
            return EngineDiagnostics.Fail(Errno.EACCES, "a shared writable mapping of a file not opened for writing");
        }

        if (!file.OpenedForReading)
        {
            return EngineDiagnostics.Fail(Errno.EACCES, "a mapping of a file not opened for reading");
        }

        return file.NoExec && (protection & LinuxConstants.PROT_EXEC) != 0
            ? EngineDiagnostics.Fail(Errno.EPERM, $"an executable mapping of {file.Name}, whose filesystem has no exec (path_noexec)")
            : null;
    }

    /// <inheritdoc/>
    public long Pread(int fd, Span<byte> buffer, long offset) =>
        _files.Get(fd) is EngineFile file ? Transfer(file, buffer, offset, write: false, positional: true) : LinuxKernel.Instance.Pread(fd, buffer, offset);

    /// <inheritdoc/>
    public long Pwrite(int fd, ReadOnlySpan<byte> buffer, long offset) =>
        _files.Get(fd) is EngineFile file ? Transfer(file, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(buffer), buffer.Length), offset, write: true, positional: true) : LinuxKernel.Instance.Pwrite(fd, buffer, offset);

    /// <summary>
    /// stat (or lstat, without <paramref name="followLast"/>) of a path, over <paramref name="stat"/>
    /// (x86_64's struct stat, which the caller filled from /dev/null's): an engine node shows what
    /// fstat of it opened would. 0, -ENOENT for an engine path where nothing is, or 1 for a path that
    /// is not the engine's (the kernel's to answer).
    /// </summary>
    public int StatPath(ReadOnlySpan<byte> path, bool followLast, Span<byte> stat)
    {
        EngineDiagnostics.Clear();
        if (path.IsEmpty || path[^1] != 0 || stat.Length < 72)
        {
            return 1;
        }

        string name = Encoding.UTF8.GetString(path[..^1]);
        InodeAttributes? node;
        switch (name)
        {
            case "/dev/iommu":
                node = DevNodes.Iommu;
                break;
            case "/dev/vfio/vfio":
                node = DevNodes.VfioContainer;
                break;
            case "/dev/vfio" or "/dev/vfio/devices":
                node = InodeAttributes.Directory;
                break;
            case not null when name.StartsWith("/dev/vfio/devices/", StringComparison.Ordinal):
                node = CdevNode(name) is EmulatedDevice cdev ? DevNodes.Cdev(cdev.Index) : null;
                break;
            case not null when name.StartsWith("/dev/vfio/", StringComparison.Ordinal):
                node = GroupNode(name) is EmulatedDevice group ? DevNodes.Group(group.Group) : null;
                break;
            case not null when ServeFailNth && FailNthFile.Matches(name):
                node = FailNthFile.Inode;
                break;
            case not null when SysfsView.Owns(name):
                node = SysfsView.Resolve(SysfsTree(), name, followLast, out SysfsNode? found) < 0 ? null : found switch
                {
                    SysfsDirectory => InodeAttributes.Directory,
                    SysfsLink link => InodeAttributes.Link(Encoding.UTF8.GetByteCount(link.Target)),
                    SysfsAttribute attribute => SysfsAttributeFile.InodeOf(attribute),
                    _ => null,
                };
                break;
            default:
                return 1;
        }

        if (node is not InodeAttributes attributes)
        {
            return EngineDiagnostics.Fail(Errno.ENOENT, $"{name}: nothing there in the engine");
        }

        WriteStat(stat, attributes);
        return 0;
    }

    /// <summary>
    /// fstat of an engine fd over <paramref name="stat"/> (x86_64's struct stat), which the caller filled
    /// from the fd's reserved /dev/null: the type and permission bits, st_rdev, st_size and st_blocks
    /// become the engine file's, as the kernel's inode shows them. False for an fd not the engine's.
    /// </summary>
    public bool Fstat(int fd, Span<byte> stat)
    {
        if (_files.Get(fd) is not EngineFile file || stat.Length < 72)
        {
            return false;
        }

        WriteStat(stat, file.Attributes);
        return true;
    }

    // x86_64's struct stat: st_mode at 24, st_rdev at 40, st_size at 48, st_blocks at 64.
    private static void WriteStat(Span<byte> stat, InodeAttributes attributes)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(stat[24..], attributes.Mode);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(stat[40..], attributes.DeviceNumber);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(stat[48..], attributes.Size);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(stat[64..], 0);
    }

    /// <inheritdoc/>
    public long Lseek(int fd, long offset, int whence)
    {
        EngineDiagnostics.Clear();
        if (_files.Get(fd) is not EngineFile file)
        {
            return LinuxKernel.Instance.Lseek(fd, offset, whence);
        }

        // ksys_lseek: a whence past SEEK_MAX is EINVAL before vfs_llseek looks at the file.
        return (uint)whence > LinuxConstants.SEEK_MAX
            ? EngineDiagnostics.Fail(Errno.EINVAL, $"whence {whence} is past SEEK_MAX")
            : file.Llseek(offset, whence);
    }

    /// <inheritdoc/>
    public long Read(int fd, Span<byte> buffer) =>
        _files.Get(fd) is EngineFile file ? Transfer(file, buffer, 0, write: false, positional: false) : LinuxKernel.Instance.Read(fd, buffer);

    /// <inheritdoc/>
    public long Write(int fd, ReadOnlySpan<byte> buffer) =>
        _files.Get(fd) is EngineFile file ? Transfer(file, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(buffer), buffer.Length), 0, write: true, positional: false) : LinuxKernel.Instance.Write(fd, buffer);

    /// <summary>
    /// read/write/pread/pwrite of an engine file in fs/read_write.c's order: pread without FMODE_PREAD
    /// is ESPIPE, a file without the operation EINVAL, a buffer outside user memory EFAULT (access_ok),
    /// then the file's own checks on the count, and only then the copies, through a kernel buffer.
    /// </summary>
    private static unsafe long Transfer(EngineFile file, Span<byte> user, long offset, bool write, bool positional)
    {
        if (positional && offset < 0)
        {
            return -(long)Errno.EINVAL;             // ksys_pread64 / ksys_pwrite64, before the file is looked at
        }

        if (positional && !file.CanSeek)
        {
            return -(long)Errno.ESPIPE;
        }

        // vfs_read / vfs_write: a file not opened for the direction is EBADF, before anything else.
        if (write ? !file.OpenedForWriting : !file.OpenedForReading)
        {
            return -(long)Errno.EBADF;
        }

        if (!(write ? file.CanWrite : file.CanRead))
        {
            return -(long)Errno.EINVAL;
        }

        ulong address = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetReference(user));
        if (!UserAccess.AccessOk(address, (ulong)user.Length))
        {
            return -(long)Errno.EFAULT;
        }

        // read and write start at the file's position (vfs_read's *ppos), which their own checks see.
        long check = file.CheckCount(user.Length, positional ? offset : file.Position, write);
        if (check != 0)
        {
            return check;
        }

        long done = write
            ? FromUser(user, file, offset, positional)
            : ToUser(user, file, offset, positional ? static (f, b, o) => f.Pread(b, o) : static (f, b, _) => f.Read(b));
        if (done > 0 && !positional)
        {
            file.Advance(done, write);
        }

        return done;
    }

    private delegate long ReadInto(EngineFile file, Span<byte> kernel, long offset);

    /// <summary>
    /// read/pread of an engine file: the file fills a kernel buffer, which then goes to the caller's
    /// buffer with copy_to_user, so a bad buffer is EFAULT, never a crash.
    /// </summary>
    private static unsafe long ToUser(Span<byte> user, EngineFile file, long offset, ReadInto read)
    {
        byte[]? rented = user.Length > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(user.Length) : null;
        Span<byte> kernel = rented is null ? stackalloc byte[512] : rented;
        kernel = kernel[..user.Length];
        try
        {
            long n = read(file, kernel, offset);
            if (n <= 0)
            {
                return n;
            }

            ulong address = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetReference(user));
            if (file.RecordLength(0) == 0)
            {
                return UserAccess.TryWrite(address, kernel[..(int)n]) ? n : -(int)Errno.EFAULT;
            }

            // Record by record, as the event queues' reads copy: a record that cannot be copied goes
            // back with those after it, and the read answers what was copied (EFAULT if nothing).
            int done = 0;
            for (int index = 0, length; done < n && (length = file.RecordLength(index)) > 0; index++)
            {
                if (!UserAccess.TryWrite(address + (ulong)done, kernel.Slice(done, length)))
                {
                    file.GiveBack(index);
                    return done == 0 ? -(int)Errno.EFAULT : done;
                }

                done += length;
            }

            return done;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// write/pwrite of an engine file: the caller's bytes come in first, as far as they can be read, and
    /// the file decides what a buffer that faults part way does (<see cref="EngineFile.WriteFrom"/>).
    /// </summary>
    private static unsafe long FromUser(ReadOnlySpan<byte> user, EngineFile file, long offset, bool positional)
    {
        byte[]? rented = user.Length > 512 ? System.Buffers.ArrayPool<byte>.Shared.Rent(user.Length) : null;
        Span<byte> kernel = rented is null ? stackalloc byte[512] : rented;
        kernel = kernel[..user.Length];
        try
        {
            int readable = UserAccess.ReadPrefix((ulong)Unsafe.AsPointer(ref MemoryMarshal.GetReference(user)), kernel);
            return file.WriteFrom(kernel, readable, offset, positional);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <inheritdoc/>
    public int EventFd(uint initialValue, int flags) => LinuxKernel.Instance.EventFd(initialValue, flags);

    /// <inheritdoc/>
    public int Poll(Span<PollFd> fds, int timeoutMilliseconds)
    {
        EngineDiagnostics.Clear();
        long deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
        PollWaiter? waiter = null;
        List<WaitQueue>? queues = null;
        try
        {
            // do_poll: ask every file; if none is ready and time is left, sleep until a file's wait queue
            // wakes the call or the time is up, then ask again.
            while (true)
            {
                int engineReady = PollEngineFiles(fds, out int realCount, out bool mayWake);
                int remaining = deadline == long.MaxValue ? -1 : (int)Math.Max(0, deadline - Environment.TickCount64);
                if (engineReady > 0 || remaining == 0 || (!mayWake && realCount > 0))
                {
                    // Ready, out of time, or only the real descriptors can change: they decide, waiting
                    // the time left unless an engine file is ready already.
                    return realCount == 0 ? engineReady : PollRealFiles(fds, engineReady > 0 ? 0 : remaining, engineReady);
                }

                if (realCount > 0)
                {
                    // Real descriptors beside engine files that may become ready: the real ones are polled
                    // in slices, the engine's asked between them (a record queued is seen within a slice).
                    const int Slice = 5;
                    int n = PollRealFiles(fds, remaining < 0 ? Slice : Math.Min(remaining, Slice), 0);
                    if (n != 0)
                    {
                        return n;
                    }
                }
                else if (waiter is null)
                {
                    // poll_wait on each engine file's queue, then ask again: a wake between the first
                    // look and the registration is not lost.
                    waiter = new PollWaiter();
                    queues = PollWait(fds, waiter);
                }
                else
                {
                    waiter.Wait(remaining);
                }
            }
        }
        finally
        {
            if (waiter is not null)
            {
                // poll_freewait: off the queues it went on, whatever the fds name now.
                foreach (WaitQueue queue in queues!)
                {
                    queue.Remove(waiter);
                }

                waiter.Dispose();
            }
        }
    }

    /// <summary>Each engine file's ready events, the real descriptors counted; whether a not-ready engine file has a wait queue.</summary>
    private int PollEngineFiles(Span<PollFd> fds, out int realCount, out bool mayWake)
    {
        int ready = 0;
        realCount = 0;
        mayWake = false;
        foreach (ref PollFd fd in fds)
        {
            if (_files.Get(fd.Fd) is EngineFile file)
            {
                fd.ReturnedEvents = file.Poll(fd.Events);
                ready += fd.ReturnedEvents != 0 ? 1 : 0;
                mayWake |= fd.ReturnedEvents == 0 && file.PollQueue is not null;
            }
            else
            {
                realCount++;
            }
        }

        return ready;
    }

    /// <summary>poll_wait: <paramref name="waiter"/> on the wait queue of each engine file polled; the queues it went on.</summary>
    private List<WaitQueue> PollWait(Span<PollFd> fds, PollWaiter waiter)
    {
        var queues = new List<WaitQueue>();
        foreach (ref PollFd fd in fds)
        {
            if (_files.Get(fd.Fd)?.PollQueue is WaitQueue queue && !queues.Contains(queue))
            {
                queue.Add(waiter);
                queues.Add(queue);
            }
        }

        return queues;
    }

    /// <summary>The real descriptors through the kernel's poll (an engine fd is replaced by -1, which poll skips); <paramref name="engineReady"/> plus the real ones ready, or -errno.</summary>
    private int PollRealFiles(Span<PollFd> fds, int timeoutMilliseconds, int engineReady)
    {
        Span<PollFd> real = fds.Length <= 64 ? stackalloc PollFd[fds.Length] : new PollFd[fds.Length];
        for (int i = 0; i < fds.Length; i++)
        {
            real[i] = _files.Contains(fds[i].Fd) ? new PollFd { Fd = -1 } : fds[i];
        }

        int n = LinuxKernel.Instance.Poll(real, timeoutMilliseconds);
        if (n < 0)
        {
            return n;
        }

        for (int i = 0; i < fds.Length; i++)
        {
            if (real[i].Fd >= 0)
            {
                fds[i].ReturnedEvents = real[i].ReturnedEvents;
            }
        }

        return engineReady + n;
    }

    /// <summary>Gives an engine file a descriptor (fault and event queues, device fds).</summary>
    internal int AddFile(EngineFile file, bool closeOnExec = true) => _files.Add(file, closeOnExec);

    /// <summary>Every open engine file (IOMMU_TEST_CMD's page-reference check walks all contexts).</summary>
    internal List<EngineFile> OpenEngineFiles() => _files.Files();

    /// <summary>The engine file behind <paramref name="fd"/>, for tests that inspect the engine's state.</summary>
    internal EngineFile? FileOf(int fd) => _files.Get(fd);

    /// <summary>
    /// Whether <paramref name="fd"/> is open (an engine file or a real descriptor), as fdget finds it:
    /// any access mode (a probe by read called a write-only file closed: EBADF, where the kernel's
    /// callers go on to their EBADFD for a file that is not theirs), but not an O_PATH descriptor.
    /// </summary>
    internal bool IsOpenFile(int fd) => fd >= 0 && (_files.Contains(fd) || Native.Libc.IsOpen(fd));
}
