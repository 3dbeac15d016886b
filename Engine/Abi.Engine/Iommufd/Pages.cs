using Abi.Engine.Process;

namespace Abi.Engine.Iommufd;

/// <summary>
/// The memory behind one MAP or MAP_FILE (pages.c, <c>struct iopt_pages</c>): a user VA range or a
/// file range. Areas of one or several IOAS share it (COPY), and it is pinned once however many
/// domains and accesses use it. It stays until the last area referring to it is unmapped. It is the
/// one owner of pinning and of what pinning charges to RLIMIT_MEMLOCK: callers pin and unpin
/// through it with the accounting to charge, and ask it what a set of pins would newly charge.
/// </summary>
internal sealed class Pages : IDmaBufImporter
{
    public ulong UserVa { get; set; }

    public ulong Length { get; set; }

    /// <summary>For MAP_FILE: the file descriptor and the byte offset; null for user memory.</summary>
    public int? FileDescriptor { get; set; }

    public ulong FileOffset { get; set; }

    /// <summary>For MAP_FILE: the file's st_dev and st_ino when it was mapped (the pins stay on that file whatever the fd becomes).</summary>
    public (ulong Device, ulong Inode)? FileIdentity { get; set; }

    /// <summary>For MAP_FILE of a file the engine serves: the file, held open by the mapping (get_file) until the pages go.</summary>
    public EngineFile? File { get; set; }

    /// <summary>For MAP_FILE: whether the file is shmem or hugetlbfs, the only files a domain can pin.</summary>
    public bool Pinnable { get; set; }

    /// <summary>
    /// Whether pinning [offset, offset + length) of a MAP_FILE source is refused (mm/gup.c:
    /// memfd_pin_folios: a file that is not shmem or hugetlbfs, or a range past its end; EINVAL).
    /// User memory and dma-bufs are never refused here.
    /// </summary>
    public bool FileRefusesPin(ulong offset, ulong length) =>
        FileDescriptor is not null && DmaBuf is null && (!Pinnable || (FileSize is long size && (ulong)size < FileOffset + offset + length));

    /// <summary>For MAP_FILE: the file's size when it was mapped (a domain cannot pin past it).</summary>
    public long? FileSize { get; set; }

    /// <summary>
    /// For MAP_FILE of a shmem file: the engine's own shared mapping of the file range, through which
    /// DMA and access reads and writes reach the file's pages as the kernel's reach its folios; 0 when
    /// there is none. It starts at the page holding <see cref="FileOffset"/>.
    /// </summary>
    public nint FileView { get; private set; }

    private nuint _fileViewLength;

    /// <summary>Maps the file range (shared, writable when the file allows it) for <see cref="FileView"/>; false when it cannot be mapped.</summary>
    public bool MapFileView(int fd)
    {
        const ulong Page = Abi.Runtime.Kernel.LinuxConstants.PageSize;
        ulong first = FileOffset & ~(Page - 1);
        ulong end = FileOffset + Length;
        if (end < FileOffset || end > long.MaxValue - Page)
        {
            return false;
        }

        nuint length = (nuint)(((end + Page - 1) & ~(Page - 1)) - first);
        const int Shared = Abi.Runtime.Kernel.LinuxConstants.MAP_SHARED;
        const int Read = Abi.Runtime.Kernel.LinuxConstants.PROT_READ, Write = Abi.Runtime.Kernel.LinuxConstants.PROT_WRITE;
        nint view = Native.Libc.Mmap(0, length, Read | Write, Shared, fd, (long)first);
        if (view == -1)
        {
            view = Native.Libc.Mmap(0, length, Read, Shared, fd, (long)first);     // a file opened read-only
        }

        if (view == -1)
        {
            return false;
        }

        FileView = view;
        _fileViewLength = length;
        return true;
    }

    /// <summary>The pages go: the engine's mapping of the file goes with them.</summary>
    public void UnmapFileView()
    {
        if (FileView != 0)
        {
            _ = Native.Libc.Munmap(FileView, _fileViewLength);
            FileView = 0;
            _fileViewLength = 0;
        }
    }

    /// <summary>For MAP_FILE of a dma-buf: the buffer (its pages are the exporter's, never pinned or charged).</summary>
    public DmaBufFile? DmaBuf { get; private set; }

    /// <summary>
    /// A dma-buf's mapping was invalidated (pages.c: iopt_revoke_notify sets the physical range's length
    /// to 0): nothing of it is in any domain any more, whatever its exporter does next.
    /// </summary>
    public bool DmaBufRevoked => _dmaBufRevoked;

    private volatile bool _dmaBufRevoked;

    /// <summary>
    /// iopt_alloc_dmabuf_pages: the pages hold <paramref name="buffer"/>'s file (EBADF when its last
    /// reference is going already) and, when the exporter lets them, hear of its invalidations until
    /// they go; the failure otherwise. Either way <see cref="IoPagetable.ReleaseIfUnused"/> lets go.
    /// </summary>
    public int? ImportDmaBuf(DmaBufFile buffer)
    {
        if (!buffer.TryGet())
        {
            return EngineDiagnostics.Fail(Abi.Interop.Errno.EBADF, "the dma-buf's file is being closed");
        }

        File = buffer;
        DmaBuf = buffer;
        _dmaBufRevoked = false;
        return buffer.Import(this);
    }

    /// <inheritdoc/>
    void IDmaBufImporter.Invalidate() => _dmaBufRevoked = true;

    /// <summary>The last area went (iopt_release_pages): the file view is unmapped, a dma-buf detached, the file let go of through <paramref name="putFile"/>.</summary>
    public void LetGo(Action<EngineFile>? putFile)
    {
        UnmapFileView();
        DmaBuf?.Detach(this);
        if (File is EngineFile file)
        {
            File = null;
            putFile?.Invoke(file);
        }
    }

    /// <summary>Whether the pages may be mapped writable (a read-only source cannot become writable by COPY).</summary>
    public bool Writable { get; set; }

    /// <summary>The areas that refer to it.</summary>
    public int Areas { get; set; }

    /// <summary>How its pins are charged, fixed when the mapping was made (pages.c: the account_mode of iopt_pages).</summary>
    public AccountingMode Mode { get; set; }

    /// <summary>Its areas that sit in an IOAS with at least one domain: while any do, every page is pinned and charged once.</summary>
    public int DomainAreas { get; set; }

    /// <summary>What a type1 mapping charged (0 for peer-to-peer memory, which type1 maps without pinning).</summary>
    public long Type1Charge { get; set; }

    /// <summary>
    /// type1's rule (vfio_iommu_type1.c: vfio_pin_pages_remote, vfio_lock_acct): a mapping charges
    /// <paramref name="pages"/> on its own, duplicates of other mappings included.
    /// </summary>
    public void ChargeAsType1(long pages, PinAccounting accounting)
    {
        Type1Charge = pages;
        accounting.Charge(Mode, pages);
    }

    /// <summary>A type1 mapping leaves: what it charged goes back.</summary>
    public void UnchargeAsType1(PinAccounting accounting) => accounting.Uncharge(Mode, Type1Charge);

    /// <summary>Which of its pages are pinned and by how many users: what it is charged for.</summary>
    public PinnedPages Pins { get; } = new();

    /// <summary>
    /// Pins (<paramref name="delta"/> &gt; 0) or unpins the pages under [offset, offset + length) of the
    /// source; returns the change in distinct pinned pages, which is what the accounting is charged.
    /// A dma-buf's pages are the exporter's: never pinned here.
    /// </summary>
    public long Pin(ulong offset, ulong length, int delta)
    {
        if (DmaBuf is not null || length == 0)
        {
            return 0;
        }

        (long first, long last) = Span(offset, length);
        return Pins.Add(first, last, delta);
    }

    /// <summary>
    /// Pins (<paramref name="delta"/> &gt; 0) or unpins as <see cref="Pin(ulong, ulong, int)"/> and
    /// charges (or gives back) the change in distinct pinned pages to <paramref name="accounting"/>,
    /// in this object's mode (pages.c: iopt_pages_update_pinned).
    /// </summary>
    public long Pin(ulong offset, ulong length, int delta, PinAccounting? accounting)
    {
        long changed = Pin(offset, length, delta);
        accounting?.Charge(Mode, changed);
        return changed;
    }

    /// <summary>
    /// What pinning every piece together would newly charge, per mode (user, mm): a page that two
    /// pieces share, or that is pinned already, counts once or not at all. Nothing stays pinned.
    /// </summary>
    public static (long User, long Mm) NewCharge(ReadOnlySpan<(Pages Pages, ulong Offset, ulong Length)> pieces)
    {
        long user = 0, mm = 0;
        foreach ((Pages pages, ulong offset, ulong length) in pieces)
        {
            AddCharge(pages.Mode, pages.Pin(offset, length, 1), ref user, ref mm);
        }

        foreach ((Pages pages, ulong offset, ulong length) in pieces)
        {
            pages.Pin(offset, length, -1);
        }

        return (user, mm);
    }

    /// <summary>Adds <paramref name="pages"/> to the total of <paramref name="mode"/>.</summary>
    public static void AddCharge(AccountingMode mode, long pages, ref long user, ref long mm)
    {
        if (mode == AccountingMode.User)
        {
            user += pages;
        }
        else if (mode == AccountingMode.Mm)
        {
            mm += pages;
        }
    }

    private (long First, long Last) Span(ulong offset, ulong length)
    {
        ulong start = SourceAddress + offset;
        return ((long)(start / Abi.Runtime.Kernel.LinuxConstants.PageSize), (long)((start + length - 1) / Abi.Runtime.Kernel.LinuxConstants.PageSize));
    }

    /// <summary>Reuses a released object for a new mapping (the context pools them, so MAP allocates nothing in steady state).</summary>
    public Pages Reset(ulong userVa, ulong length, int? fileDescriptor, ulong fileOffset, bool writable, AccountingMode mode)
    {
        Mode = mode;
        DomainAreas = 0;
        Pins.Clear();
        UserVa = userVa;
        Length = length;
        FileDescriptor = fileDescriptor;
        FileOffset = fileOffset;
        DmaBuf = null;
        _dmaBufRevoked = false;
        FileIdentity = null;
        FileSize = null;
        File = null;
        Pinnable = false;
        Writable = writable;
        Areas = 0;
        return this;
    }

    /// <summary>The sub-page offset of the source: the IOVA keeps it.</summary>
    public ulong SourceAddress => FileDescriptor is null ? UserVa : FileOffset;
}
