using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>Interrupts (drivers/vfio/pci/vfio_pci_core.c: vfio_pci_ioctl_get_irq_info, vfio_pci_set_irqs_ioctl): GET_IRQ_INFO, and SET_IRQS's generic checks before the device's controller acts.</summary>
internal abstract unsafe partial class VfioDeviceFile
{
    private int GetIrqInfo(byte* arg)
    {
        ref vfio_irq_info info = ref *(vfio_irq_info*)arg;
        const uint MinSize = IoctlMinSizes.VFIO_DEVICE_GET_IRQ_INFO;
        if (info.argsz < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {info.argsz} is below {MinSize}");
        }

        uint index = info.index;
        if (index >= Constants.VFIO_PCI_NUM_IRQS || (index == Constants.VFIO_PCI_ERR_IRQ_INDEX && !Model.IsExpress))
        {
            return Fail(Errno.EINVAL, index == Constants.VFIO_PCI_ERR_IRQ_INDEX ? "the ERR index exists only on PCI Express devices" : $"IRQ index {index} is past the last ({Constants.VFIO_PCI_NUM_IRQS - 1})");
        }

        // A device with MSI-X can have vectors added while enabled (dynamic allocation, which interrupt
        // remapping provides), so its MSI-X index lacks NORESIZE; every other index keeps it (a device
        // without MSI-X too); INTx is maskable and automasked.
        uint flags = Constants.VFIO_IRQ_INFO_EVENTFD;
        flags |= index switch
        {
            Constants.VFIO_PCI_INTX_IRQ_INDEX => (uint)(Constants.VFIO_IRQ_INFO_MASKABLE | Constants.VFIO_IRQ_INFO_AUTOMASKED),
            Constants.VFIO_PCI_MSIX_IRQ_INDEX when Model.MsixVectors > 0 => 0,
            _ => Constants.VFIO_IRQ_INFO_NORESIZE,
        };
        info.flags = flags;
        info.count = (uint)Model.Interrupts.Count(index);
        return 0;
    }

    private int SetIrqs(byte* arg, ulong user)
    {
        ref vfio_irq_set set = ref *(vfio_irq_set*)arg;
        const uint MinSize = IoctlMinSizes.VFIO_DEVICE_SET_IRQS;
        uint argsz = set.argsz, flags = set.flags, index = set.index, start = set.start, count = set.count;
        if (argsz < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} is below {MinSize}");
        }

        if (index >= Constants.VFIO_PCI_NUM_IRQS)
        {
            return Fail(Errno.EINVAL, $"IRQ index {index} is past the last");
        }

        if (count >= uint.MaxValue - start)
        {
            return Fail(Errno.EINVAL, $"start {start} + count {count} overflows");
        }

        const uint Known = (uint)(Constants.VFIO_IRQ_SET_DATA_TYPE_MASK | Constants.VFIO_IRQ_SET_ACTION_TYPE_MASK);
        if ((flags & ~Known) != 0)
        {
            return Fail(Errno.EINVAL, $"unknown flags 0x{flags & ~Known:X}");
        }

        uint vectors = (uint)Model.Interrupts.Count(index);
        if (vectors == 0 || start >= vectors || start + count > vectors)
        {
            return Fail(Errno.EINVAL, $"vectors [{start}, {start + count}) are outside the {vectors} of index {index}");
        }

        uint elementSize = (flags & Constants.VFIO_IRQ_SET_DATA_TYPE_MASK) switch
        {
            (uint)Constants.VFIO_IRQ_SET_DATA_NONE => 0,
            (uint)Constants.VFIO_IRQ_SET_DATA_BOOL => 1,
            (uint)Constants.VFIO_IRQ_SET_DATA_EVENTFD => 4,
            _ => uint.MaxValue,
        };
        if (elementSize == uint.MaxValue)
        {
            return Fail(Errno.EINVAL, "exactly one DATA type must be given");
        }

        ulong dataSize = (ulong)elementSize * count;
        if (argsz - MinSize < dataSize)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} leaves {argsz - MinSize} bytes for {dataSize} bytes of data");
        }

        // The data follows the header in the caller's buffer; the kernel copies exactly dataSize bytes.
        Span<byte> data = stackalloc byte[(int)Math.Min(dataSize, 4 * 2048)];
        if (dataSize > (ulong)data.Length || !UserAccess.TryRead(user + MinSize, data))
        {
            return Fail(dataSize > (ulong)data.Length ? Errno.EINVAL : Errno.EFAULT, "the data array cannot be read");
        }

        return Model.Interrupts.Set(flags, index, start, count, data);
    }
}
