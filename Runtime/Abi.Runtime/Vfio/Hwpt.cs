using Abi.Linux;

namespace Abi.Runtime.Vfio;

/// <summary>A hardware page table: what a device is attached to, and where dirty tracking lives.</summary>
public sealed unsafe class Hwpt : IDisposable
{
    private const string Kind = "iommufd";
    private bool _destroyed;

    internal Hwpt(IommuFd owner, uint id)
    {
        Owner = owner;
        Id = id;
    }

    /// <summary>The iommufd context that owns it.</summary>
    public IommuFd Owner { get; }

    /// <summary>Its object id.</summary>
    public uint Id { get; }

    /// <summary>Starts or stops dirty tracking (the HWPT must have been allocated with DIRTY_TRACKING).</summary>
    public void SetDirtyTracking(bool enabled)
    {
        var arg = new iommu_hwpt_set_dirty_tracking { hwpt_id = Id, flags = enabled ? (uint)iommufd_hwpt_set_dirty_tracking_flags.IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0 };
        using FileDescriptor.Lease lease = Owner.Fd.Borrow();
        IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryHwptSetDirtyTracking(ref arg), Owner.Kernel, "IOMMU_HWPT_SET_DIRTY_TRACKING", Kind);
    }

    /// <summary>
    /// Reads the dirty bitmap of [iova, iova + length) into <paramref name="bitmap"/> (cleared first), one bit per
    /// <paramref name="pageSize"/> page, bit 0 of word 0 for <paramref name="iova"/>. Clears the
    /// dirty state unless <paramref name="clear"/> is false.
    /// </summary>
    public void GetDirtyBitmap(ulong iova, ulong length, ulong pageSize, Span<ulong> bitmap, bool clear = true)
    {
        ArgumentOutOfRangeException.ThrowIfZero(pageSize);
        ulong pages = length / pageSize;
        ArgumentOutOfRangeException.ThrowIfLessThan((ulong)bitmap.Length * 64, pages, nameof(bitmap));
        bitmap.Clear();     // the kernel only sets bits
        fixed (ulong* p = bitmap)
        {
            var arg = new iommu_hwpt_get_dirty_bitmap
            {
                hwpt_id = Id,
                flags = clear ? 0 : (uint)iommufd_hwpt_get_dirty_bitmap_flags.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
                iova = iova,
                length = length,
                page_size = pageSize,
                data = (ulong)p,
            };
            using FileDescriptor.Lease lease = Owner.Fd.Borrow();
            IoctlCheck.Ok(new IommufdIoctls(Owner.Kernel, lease.Fd).TryHwptGetDirtyBitmap(ref arg), Owner.Kernel, "IOMMU_HWPT_GET_DIRTY_BITMAP", Kind);
        }
    }

    /// <summary>Destroys the HWPT (no device may be attached). Does nothing once the context is closed.</summary>
    public void Dispose()
    {
        if (!_destroyed && !Owner.Fd.IsClosed)
        {
            Owner.Destroy(Id);
            _destroyed = true;
        }
    }
}
