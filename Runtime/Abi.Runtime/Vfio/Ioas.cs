using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;

namespace Abi.Runtime.Vfio;

/// <summary>An I/O address space: the IOVA → user memory mappings that devices attached to it see.</summary>
public sealed unsafe class Ioas : IDisposable, IDmaMapper
{
    private const string Kind = "iommufd";
    private const iommufd_ioas_map_flags ReadWrite = iommufd_ioas_map_flags.IOMMU_IOAS_MAP_READABLE | iommufd_ioas_map_flags.IOMMU_IOAS_MAP_WRITEABLE;
    private bool _destroyed;

    internal Ioas(IommuFd owner, uint id)
    {
        Owner = owner;
        Id = id;
    }

    /// <summary>The iommufd context that owns it.</summary>
    public IommuFd Owner { get; }

    /// <summary>Its object id.</summary>
    public uint Id { get; }

    /// <inheritdoc/>
    IKernel IDmaMapper.Kernel => Owner.Kernel;

    /// <inheritdoc/>
    ulong IDmaMapper.Map(DmaBuffer buffer) => Map(buffer);

    /// <inheritdoc/>
    void IDmaMapper.Unmap(ulong iova, ulong length) => Unmap(iova, length);

    /// <summary>Maps a DMA buffer for device read and write; at <paramref name="iova"/>, or where the kernel chooses. Returns the IOVA.</summary>
    public ulong Map(DmaBuffer buffer, ulong? iova = null, iommufd_ioas_map_flags access = ReadWrite)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (buffer.Kernel != Owner.Kernel)
        {
            throw new ArgumentException($"the buffer was allocated by the {buffer.Kernel.Name} backend but this IOAS belongs to the {Owner.Kernel.Name} backend", nameof(buffer));
        }

        return Map(buffer.Address, (ulong)buffer.Length, iova, access);
    }

    /// <summary>Maps user memory at <paramref name="userVa"/>; at <paramref name="iova"/>, or where the kernel chooses. Returns the IOVA.</summary>
    public ulong Map(nint userVa, ulong length, ulong? iova = null, iommufd_ioas_map_flags access = ReadWrite)
    {
        var arg = new iommu_ioas_map
        {
            flags = (uint)(access | (iova is null ? 0 : iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA)),
            ioas_id = Id,
            user_va = (ulong)userVa,
            length = length,
            iova = iova ?? 0,
        };
        using FileDescriptor.Lease lease = Owner.Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryIoasMap(ref arg), Owner.Kernel, "IOMMU_IOAS_MAP", Kind);
        return arg.iova;
    }

    /// <summary>Maps <paramref name="length"/> bytes of a file (a memfd) from <paramref name="start"/>. Returns the IOVA.</summary>
    public ulong MapFile(FileDescriptor file, ulong start, ulong length, ulong? iova = null, iommufd_ioas_map_flags access = ReadWrite)
    {
        ArgumentNullException.ThrowIfNull(file);
        using FileDescriptor.Lease fileLease = file.Borrow();
        var arg = new iommu_ioas_map_file
        {
            flags = (uint)(access | (iova is null ? 0 : iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA)),
            ioas_id = Id,
            fd = fileLease.Fd,
            start = start,
            length = length,
            iova = iova ?? 0,
        };
        using FileDescriptor.Lease lease = Owner.Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryIoasMapFile(ref arg), Owner.Kernel, "IOMMU_IOAS_MAP_FILE", Kind);
        return arg.iova;
    }

    /// <summary>Unmaps the whole mappings inside [iova, iova + length). Returns how many bytes were unmapped.</summary>
    public ulong Unmap(ulong iova, ulong length)
    {
        var arg = new iommu_ioas_unmap { ioas_id = Id, iova = iova, length = length };
        using FileDescriptor.Lease lease = Owner.Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryIoasUnmap(ref arg), Owner.Kernel, "IOMMU_IOAS_UNMAP", Kind);
        return arg.length;
    }

    /// <summary>Unmaps everything (iova 0, length 2^64-1, as the kernel spells "all"). Returns how many bytes were unmapped.</summary>
    public ulong UnmapAll() => Unmap(0, ulong.MaxValue);

    /// <summary>Maps, in this IOAS, the pages that <paramref name="source"/> maps at <paramref name="sourceIova"/>. Returns the IOVA here.</summary>
    public ulong CopyFrom(Ioas source, ulong sourceIova, ulong length, ulong? iova = null, iommufd_ioas_map_flags access = ReadWrite)
    {
        ArgumentNullException.ThrowIfNull(source);
        var arg = new iommu_ioas_copy
        {
            flags = (uint)(access | (iova is null ? 0 : iommufd_ioas_map_flags.IOMMU_IOAS_MAP_FIXED_IOVA)),
            dst_ioas_id = Id,
            src_ioas_id = source.Id,
            length = length,
            dst_iova = iova ?? 0,
            src_iova = sourceIova,
        };
        using FileDescriptor.Lease lease = Owner.Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryIoasCopy(ref arg), Owner.Kernel, "IOMMU_IOAS_COPY", Kind);
        return arg.dst_iova;
    }

    /// <summary>The IOVA ranges that may be mapped, and the alignment the kernel requires of IOVAs and lengths.</summary>
    public (IReadOnlyList<IovaRange> Ranges, ulong Alignment) GetIovaRanges()
    {
        // Ask with room for a few ranges; on EMSGSIZE the kernel has told how many there are.
        uint capacity = 8;
        while (true)
        {
            iommu_iova_range[] ranges = new iommu_iova_range[capacity];
            fixed (iommu_iova_range* p = ranges)
            {
                var arg = new iommu_ioas_iova_ranges { ioas_id = Id, num_iovas = capacity, allowed_iovas = (ulong)p };
                Errno errno;
                using (FileDescriptor.Lease lease = Owner.Fd.Borrow())
                {
                    errno = new IommufdIoctls(Owner.Kernel, lease.Fd).TryIoasIovaRanges(ref arg);
                }

                if (errno == Errno.EMSGSIZE && arg.num_iovas > capacity)
                {
                    capacity = arg.num_iovas;
                    continue;
                }

                IoctlCheck.Ok(errno, Owner.Kernel, "IOMMU_IOAS_IOVA_RANGES", Kind);
                return (ranges.Take((int)arg.num_iovas).Select(r => new IovaRange(r.start, r.last)).ToArray(), arg.out_iova_alignment);
            }
        }
    }

    /// <summary>Restricts automatic and fixed mappings to <paramref name="ranges"/> (empty: no restriction).</summary>
    public void AllowIovas(ReadOnlySpan<IovaRange> ranges)
    {
        Span<iommu_iova_range> native = ranges.Length <= 64 ? stackalloc iommu_iova_range[ranges.Length] : new iommu_iova_range[ranges.Length];
        for (int i = 0; i < ranges.Length; i++)
        {
            native[i] = new iommu_iova_range { start = ranges[i].Start, last = ranges[i].Last };
        }

        fixed (iommu_iova_range* p = native)
        {
            var arg = new iommu_ioas_allow_iovas { ioas_id = Id, num_iovas = (uint)ranges.Length, allowed_iovas = (ulong)p };
            using FileDescriptor.Lease lease = Owner.Fd.Borrow();
            IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryIoasAllowIovas(ref arg), Owner.Kernel, "IOMMU_IOAS_ALLOW_IOVAS", Kind);
        }
    }

    /// <summary>Destroys the IOAS (it must no longer be in use). Does nothing once the context is closed.</summary>
    public void Dispose()
    {
        if (!_destroyed && !Owner.Fd.IsClosed)
        {
            Owner.Destroy(Id);
            _destroyed = true;
        }
    }
}
