using Abi.Engine.Process;
using Abi.Interop;
using Abi.Runtime.Kernel;

namespace Abi.Engine;

/// <summary>
/// A dma-buf as IOMMU_IOAS_MAP_FILE sees one (<c>iopt_map_file_pages</c> and the dma-buf importer in
/// <c>drivers/iommu/iommufd/pages.c</c>): a length in whole pages that its exporter may revoke and
/// restore. The importer never pins or charges it. Exporters derive from it: the selftest's
/// <c>IOMMU_TEST_OP_DMABUF_GET</c> and vfio-pci's <c>VFIO_DEVICE_FEATURE_DMA_BUF</c>.
/// <para>
/// An importer attaches for as long as it maps the buffer (iommufd's pages object, which also holds
/// the file). A revocation, and equally a restore, invalidates every attachment
/// (<c>dma_buf_invalidate_mappings</c>): iommufd's <c>iopt_revoke_notify</c> takes the pages out of
/// every domain for good, so a restored buffer serves new mappings only.
/// </para>
/// </summary>
internal abstract class DmaBufFile(ulong length) : EngineFile
{
    private readonly List<IDmaBufImporter> _importers = [];

    public override string Name => "dmabuf:";

    // dma_buf_getfile: a file of dma-buf's own pseudo filesystem (init_pseudo: SB_I_NOEXEC).
    public override bool NoExec => true;

    /// <summary>dma_buf_getfile: an anonymous inode of the buffer's size.</summary>
    public override InodeAttributes Attributes => InodeAttributes.AnonymousInode((long)Length);

    public ulong Length { get; } = length;

    /// <summary>Revoked by its exporter: new mappings fail with ENODEV; existing areas stay, with nothing behind them in the domains.</summary>
    public volatile bool Revoked;

    /// <summary>
    /// The exporter's checks when iommufd attaches and asks for the buffer's one physical range
    /// (<c>iopt_map_dmabuf</c>): null when it may map it, else the failure.
    /// </summary>
    public virtual int? RefuseImport() => Revoked ? EngineDiagnostics.Fail(Errno.ENODEV, "the dma-buf is revoked") : null;

    /// <summary>
    /// Where device DMA through an importer reaches byte <paramref name="offset"/> of the buffer, and how
    /// many bytes from there are contiguous; 0 when the engine has no memory behind it (a register file,
    /// or an exporter whose contents are not modelled).
    /// </summary>
    public virtual nint Reach(ulong offset, out ulong contiguous)
    {
        contiguous = 0;
        return 0;
    }

    /// <summary>
    /// dma_buf_llseek: only the end can be found (SEEK_END 0 is the size) and SEEK_SET 0 answers 0, for
    /// the SEEK_END, SEEK_SET idiom; any other whence, or any other offset, is EINVAL. The position stays.
    /// </summary>
    public override long Llseek(long offset, int whence) =>
        whence is not (LinuxConstants.SEEK_END or LinuxConstants.SEEK_SET) || offset != 0
            ? EngineDiagnostics.Fail(Errno.EINVAL, "a dma-buf seeks only to its end or its start, with offset 0")
            : whence == LinuxConstants.SEEK_END ? (long)Length : 0;

    // include/uapi/linux/dma-buf.h: _IOW('b', 0, struct dma_buf_sync) and _IOW('b', 1, __u32 / __u64),
    // and the sync flags (READ 1, WRITE 2, END 4).
    private const uint IoctlSync = 0x4008_6200, SetNameA = 0x4004_6201, SetNameB = 0x4008_6201;
    private const ulong SyncReadWrite = 3, SyncValidFlags = 7;
    private const int NameLength = 32;   // DMA_BUF_NAME_LEN, the NUL included

    /// <summary>The name DMA_BUF_SET_NAME gave it (shown in the kernel's fdinfo and debugfs).</summary>
    public string? BufferName { get; private set; }

    /// <summary>
    /// dma_buf_ioctl: SYNC checks its flags (one or both directions, nothing unknown) and, with no fences
    /// and no cpu-access hooks in either exporter, is done; SET_NAME takes a string of up to 31 bytes
    /// (strndup_user); the sync-file ioctls are not built in the kernel the engine follows
    /// (CONFIG_SYNC_FILE is off), so they are ENOTTY with everything else.
    /// </summary>
    public override int Ioctl(EngineThread thread, uint request, nint argument)
    {
        switch (request)
        {
            case IoctlSync:
                if (!UserAccess.TryRead((ulong)argument, out ulong flags))
                {
                    return EngineDiagnostics.Fail(Errno.EFAULT, "struct dma_buf_sync cannot be read");
                }

                return (flags & ~SyncValidFlags) != 0 || (flags & SyncReadWrite) == 0
                    ? EngineDiagnostics.Fail(Errno.EINVAL, $"sync flags 0x{flags:X} are not a direction and START or END")
                    : 0;
            case SetNameA or SetNameB:
                Span<byte> name = stackalloc byte[NameLength];
                int length = UserAccess.StrnlenUser((ulong)argument, name);
                return length switch
                {
                    0 => EngineDiagnostics.Fail(Errno.EFAULT, "the name cannot be read"),
                    < 0 => EngineDiagnostics.Fail(Errno.EINVAL, $"the name is longer than {NameLength - 1} bytes"),
                    _ => SetName(System.Text.Encoding.UTF8.GetString(name[..(length - 1)])),
                };
            default:
                return EngineDiagnostics.Fail(Errno.ENOTTY, $"0x{request:X} is not a dma-buf ioctl");
        }
    }

    private int SetName(string name)
    {
        BufferName = name;
        return 0;
    }

    /// <summary>dma_buf_poll: no fences are ever attached, so reading and writing are ready at once.</summary>
    public override short Poll(short requested) => (short)(requested & (Runtime.Kernel.LinuxConstants.POLLIN | Runtime.Kernel.LinuxConstants.POLLOUT));

    /// <summary>
    /// dma_buf_dynamic_attach and the exporter's answer for iommufd, under the buffer's reservation
    /// (the importers' lock here): refused (the failure), or attached, hearing of every invalidation
    /// from now until it detaches. A revocation sets <see cref="Revoked"/> before it invalidates, so
    /// an import either sees it or is invalidated by it.
    /// </summary>
    public int? Import(IDmaBufImporter importer)
    {
        lock (_importers)
        {
            if (RefuseImport() is int refused)
            {
                return refused;
            }

            _importers.Add(importer);
            return null;
        }
    }

    /// <summary>dma_buf_detach.</summary>
    public void Detach(IDmaBufImporter importer)
    {
        lock (_importers)
        {
            _importers.Remove(importer);
        }
    }

    /// <summary>dma_buf_invalidate_mappings: every attached importer lets go of what it mapped.</summary>
    public void InvalidateMappings()
    {
        lock (_importers)
        {
            foreach (IDmaBufImporter importer in _importers)
            {
                importer.Invalidate();
            }
        }
    }
}

/// <summary>A dma-buf importer's move_notify (<c>invalidate_mappings</c>), called with the exporter's reservation held.</summary>
internal interface IDmaBufImporter
{
    void Invalidate();
}
