using Abi.Engine.Pci;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Tests;

/// <summary>
/// A function whose BAR0 is 64 KiB of plain memory, as a frame buffer or a controller memory buffer
/// is, and whose BAR2 is 16 bytes of I/O space (a peer-to-peer target and a BAR that cannot be one).
/// </summary>
internal sealed class MemoryBarDevice : PciDevice
{
    public MemoryBarDevice()
        : base(vendorId: 0x1234, deviceId: 0x0001, classCode: 0x058000)
    {
        Memory = AddMemoryBar(0, 0x10000);
        AddIoBar(2, 16, new Ports());
    }

    public PciMemory Memory { get; }

    private sealed class Ports : IMmioHandler
    {
        public ulong Read(long offset, int size) => 0;

        public void Write(long offset, int size, ulong value)
        {
        }
    }
}
