using Abi.Linux;

namespace Abi.Runtime.Vfio;

/// <summary>What VFIO_DEVICE_GET_INFO reports.</summary>
public readonly record struct VfioDeviceInfo(uint Flags, uint RegionCount, uint IrqCount)
{
    /// <summary>Whether it is a PCI device.</summary>
    public bool IsPci => (Flags & Constants.VFIO_DEVICE_FLAGS_PCI) != 0;

    /// <summary>Whether VFIO_DEVICE_RESET is supported.</summary>
    public bool CanReset => (Flags & Constants.VFIO_DEVICE_FLAGS_RESET) != 0;
}
