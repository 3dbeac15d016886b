using Abi.Engine.Iommufd;

namespace Abi.Engine.Selftest;

/// <summary>
/// The object IOMMU_TEST_CMD's MOCK_DOMAIN returns (<c>out_stdev_id</c>): it owns a mock device.
/// The device's own id cannot be destroyed (EBUSY, like any device); destroying this object detaches,
/// unbinds and deletes the device.
/// </summary>
internal sealed class SelftestObject(IommufdFile owner) : IommufdObject
{
    /// <summary>Owner of the ranges ADD_RESERVED reserves: they stay for the life of the IOAS.</summary>
    public static readonly object ReservedOwner = new();

    public override ObjectKind Kind => ObjectKind.Selftest;

    public DeviceObject? Device { get; set; }

    public override void Destroyed()
    {
        if (Device is DeviceObject device)
        {
            owner.DetachMock(device);
            Device = null;
        }
    }
}
