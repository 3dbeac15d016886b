using Abi.Linux;

namespace Abi.Runtime.Vfio;

/// <summary>What VFIO_DEVICE_GET_IRQ_INFO reports for one interrupt index (INTx, MSI, MSI-X...).</summary>
public readonly record struct VfioIrqInfo(uint Index, uint Flags, uint Count)
{
    /// <summary>Whether eventfds can be attached as triggers.</summary>
    public bool SupportsEventFd => (Flags & Constants.VFIO_IRQ_INFO_EVENTFD) != 0;
}
