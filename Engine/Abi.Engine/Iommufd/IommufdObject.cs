
namespace Abi.Engine.Iommufd;

/// <summary>An object in a context's table. <see cref="Users"/> counts the references other objects (and open fds) hold on it; while it is non-zero, IOMMU_DESTROY answers EBUSY.</summary>
internal abstract class IommufdObject
{
    public uint Id { get; set; }

    public abstract ObjectKind Kind { get; }

    public int Users { get; set; }

    /// <summary>Releases what the object holds; called once, after it left the table.</summary>
    public virtual void Destroyed()
    {
    }
}
