using Abi.Engine.Pci;

namespace Abi.Engine.Devices;

/// <summary>
/// The shape of QEMU's <c>e1000e</c> (Intel 82574L, 8086:10d3) as VFIO shows it: a PCI Express
/// function with BAR0 (128 KiB registers), BAR1 (128 KiB flash), BAR2 (32 bytes of I/O), BAR3
/// (16 KiB holding the 5-vector MSI-X table), one MSI vector, a 256 KiB option ROM and a function
/// reset. It exists so the conformance run can compare what VFIO reports for the same device on
/// the kernel and the engine; its registers are a plain store, with no network behind them.
/// </summary>
public sealed class E1000eDevice : PciDevice
{
    /// <summary>Creates the function.</summary>
    public E1000eDevice()
        : base(vendorId: 0x8086, deviceId: 0x10D3, classCode: 0x020000, revision: 0, interruptPin: 1)
    {
        AddBar(0, 0x20000, new RegisterFile(0x20000));
        AddBar(1, 0x20000, new RegisterFile(0x20000));
        AddIoBar(2, 0x20, new RegisterFile(0x20));
        AddBar(3, 0x4000, new RegisterFile(0x4000));
        AddMsi(1);
        AddMsix(5, bar: 3, tableOffset: 0x0000, pbaOffset: 0x2000);
        AddExpressCapability();
        AddOptionRom(0x40000);
    }
}
