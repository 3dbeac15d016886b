namespace Abi.Engine.Pci;

/// <summary>
/// What a physical function's SR-IOV extended capability says (PCIe base spec §9.3.3; the kernel reads
/// it in drivers/pci/iov.c, sriov_init): how many VFs it can have, their device id, and where their
/// routing ids start and step. The engine's config space is the 256-byte legacy one, so the
/// capability itself is not in it; the kernel's view of it (sysfs, VF creation) follows from these.
/// </summary>
/// <param name="TotalVfs">TotalVFs.</param>
/// <param name="VfDeviceId">VF Device ID.</param>
/// <param name="FirstVfOffset">First VF Offset: the first VF's routing id minus the PF's.</param>
/// <param name="VfStride">VF Stride: between consecutive VFs' routing ids.</param>
public sealed record SriovCapability(int TotalVfs, ushort VfDeviceId, int FirstVfOffset, int VfStride)
{
    /// <summary>The routing id (bus &lt;&lt; 8 | devfn) of VF <paramref name="index"/> of a PF at <paramref name="pfRoutingId"/> (pci_iov_virtfn_bus/devfn).</summary>
    public int VfRoutingId(int pfRoutingId, int index) => pfRoutingId + FirstVfOffset + (VfStride * index);
}
