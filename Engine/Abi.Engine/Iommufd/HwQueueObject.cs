
namespace Abi.Engine.Iommufd;

/// <summary>
/// A HW queue (IOMMU_HW_QUEUE_ALLOC): a guest queue in nesting-parent IOVA that the vIOMMU's
/// hardware reads by physical address. Its pages are pinned by an internal access, which locks
/// their areas (IOMMU_IOAS_UNMAP of them is EBUSY) until the queue is destroyed. The mock vIOMMU
/// keeps queues in index slots, each one after the first depending on (holding busy) the one before.
/// </summary>
internal sealed class HwQueueObject : IommufdObject
{
    public HwQueueObject(ViommuObject viommu, uint index, ulong baseIova, ulong length, AccessObject access, HwQueueObject? previous)
    {
        Viommu = viommu;
        Index = index;
        BaseIova = baseIova;
        Length = length;
        Access = access;
        Previous = previous;
        viommu.Users++;
        viommu.SetHwQueue((int)index, this);
        if (previous is not null)
        {
            previous.Users++;
        }
    }

    public override ObjectKind Kind => ObjectKind.HwQueue;

    public ViommuObject Viommu { get; }

    public uint Index { get; }

    public ulong BaseIova { get; }

    public ulong Length { get; }

    /// <summary>The internal access pinning the queue's pages.</summary>
    public AccessObject Access { get; }

    /// <summary>The queue in the slot before, which this one depends on.</summary>
    public HwQueueObject? Previous { get; }

    public override void Destroyed()
    {
        Viommu.Parent.Iommu.HwQueueDestroyed(Viommu, this);
        if (Previous is not null)
        {
            Previous.Users--;
        }

        Access.Owner.DestroyAccess(Access);
        Viommu.Users--;
    }
}
