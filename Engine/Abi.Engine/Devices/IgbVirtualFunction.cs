using Abi.Engine.Pci;

namespace Abi.Engine.Devices;

/// <summary>
/// A virtual function of the 82576 (igbvf, 8086:10CA) as the PF makes it when SR-IOV is enabled: its
/// BAR0 (16 KiB of registers), BAR3 (16 KiB, the MSI-X table with 3 vectors) and a PCIe capability,
/// so that it can be found, bound and opened like any function. Nothing is behind the registers
/// (they read as written): the VF's queues and its mailbox to the PF are not modelled.
/// </summary>
public sealed class IgbVirtualFunction : PciDevice
{
    /// <summary>Creates the function.</summary>
    public IgbVirtualFunction()
        : base(vendorId: 0x8086, deviceId: 0x10CA, classCode: 0x020000, revision: 0x01, interruptPin: 0)
    {
        AddMemoryBar(0, 0x4000);
        AddMemoryBar(3, 0x4000);
        AddMsix(3, bar: 3, tableOffset: 0, pbaOffset: 0x2000);
        AddExpressCapability();
    }
}
