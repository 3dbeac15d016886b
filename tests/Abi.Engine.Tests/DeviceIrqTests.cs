using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>GET_IRQ_INFO and SET_IRQS (drivers/vfio/pci/vfio_pci_core.c: vfio_pci_ioctl_get_irq_info, vfio_pci_set_irqs_ioctl).</summary>
public sealed class DeviceIrqTests : DeviceTest
{
    private const uint Msi = Constants.VFIO_PCI_MSI_IRQ_INDEX, Msix = Constants.VFIO_PCI_MSIX_IRQ_INDEX, Intx = Constants.VFIO_PCI_INTX_IRQ_INDEX;
    private const uint Eventfd = (uint)(Constants.VFIO_IRQ_SET_DATA_EVENTFD | Constants.VFIO_IRQ_SET_ACTION_TRIGGER);
    private const uint None = (uint)(Constants.VFIO_IRQ_SET_DATA_NONE | Constants.VFIO_IRQ_SET_ACTION_TRIGGER);

    [Fact]
    public void IrqInfo_DescribesEachIndex()
    {
        using VfioDevice device = OpenBound(out _);
        Assert.Equal(new VfioIrqInfo(Intx, 1 | 2 | 4, 1), device.GetIrqInfo(Intx));
        Assert.Equal(new VfioIrqInfo(Msi, 1 | 8, 1), device.GetIrqInfo(Msi));
        Assert.Equal(new VfioIrqInfo(Msix, 1, 1), device.GetIrqInfo(Msix));                 // dynamic MSI-X: no NORESIZE (as the 7.2 kernel answers under VT-d)
        Assert.Equal(new VfioIrqInfo(4, 1 | 8, 1), device.GetIrqInfo(Constants.VFIO_PCI_REQ_IRQ_INDEX));
        var info = new vfio_irq_info { index = Constants.VFIO_PCI_ERR_IRQ_INDEX };
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryGetIrqInfo(ref info));             // not PCI Express
        info.index = 5;
        Assert.Equal(Errno.EINVAL, RawDevice(device).TryGetIrqInfo(ref info));
    }

    [Fact]
    public void IrqInfo_OfAPciExpressFunction_HasAnErrIndex_AndNoMsixWithoutMsix()
    {
        var express = new Abi.Engine.Devices.E1000eDevice();
        using VfioDevice e1000e = VfioDevice.OpenCdev(Kernel.AddDevice(express).CdevPath!, Kernel);
        e1000e.BindIommufd(Iommufd);
        Assert.Equal(new VfioIrqInfo(Constants.VFIO_PCI_ERR_IRQ_INDEX, 1 | 8, 1), e1000e.GetIrqInfo(Constants.VFIO_PCI_ERR_IRQ_INDEX));
        Assert.Equal(new VfioIrqInfo(Msix, 1, 5), e1000e.GetIrqInfo(Msix));
        Assert.Equal(0x1000UL, e1000e.GetRegionInfo(Constants.VFIO_PCI_CONFIG_REGION_INDEX).Size);
        Assert.Equal(0x20UL, e1000e.GetRegionInfo(Constants.VFIO_PCI_BAR2_REGION_INDEX).Size);
        Assert.False(e1000e.GetRegionInfo(Constants.VFIO_PCI_BAR2_REGION_INDEX).CanMmap);        // I/O space
        Assert.Equal(0UL, e1000e.ReadConfig32(0x100));                                           // extended config reads 0
        byte[] across = new byte[8];
        Assert.Equal(8, Kernel.Pread(FdOf(e1000e), across, (7L << 40) + 0xFC));                   // vfio_pci_config_rw goes on into it
        Assert.Equal(e1000e.ReadConfig32(0xFC), BitConverter.ToUInt32(across));
        Assert.Equal(0u, BitConverter.ToUInt32(across, 4));

        var plain = new Abi.Engine.Devices.EduDevice(msix: false);
        using VfioDevice edu = VfioDevice.OpenCdev(Kernel.AddDevice(plain).CdevPath!, Kernel);
        edu.BindIommufd(Iommufd);
        Assert.Equal(new VfioIrqInfo(Msix, 1 | 8, 0), edu.GetIrqInfo(Msix));                 // no MSI-X: NORESIZE stays
    }

    [Fact]
    public void MalformedSetIrqs_GetEinval_AndChangeNothing()
    {
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        int efd = (int)trigger.Fd.DangerousGetHandle();
        int fd = FdOf(device);

        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msix, 0, 1, [efd], argsz: 19));           // argsz < 20
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, 5, 0, 1, [efd]));                          // bad index
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msix, 2, uint.MaxValue - 2, [efd]));       // count overflow
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd | 0x40, Msix, 0, 1, [efd]));                // unknown flag
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msix, 1, 1, [efd]));                       // start past the vectors
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msix, 0, 2, [efd, efd]));                  // too many
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd | 1, Msix, 0, 1, [efd]));                   // two data types
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msix, 0, 1, [efd], argsz: 23));            // data cut short
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Constants.VFIO_PCI_ERR_IRQ_INDEX, 0, 0, []));   // no vectors at all
        Assert.Equal(-(int)Errno.ENOTTY, SetIrqs(fd, (uint)(Constants.VFIO_IRQ_SET_DATA_NONE | Constants.VFIO_IRQ_SET_ACTION_MASK), Msix, 0, 1, []));
        Assert.Equal(-(int)Errno.ENOTTY, SetIrqs(fd, (uint)(Constants.VFIO_IRQ_SET_DATA_NONE | 0x18), Intx, 0, 1, []));   // two actions
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, None, Msix, 0, 1, []));                             // loopback on a disabled index
        Assert.Equal(-1, Edu.Interrupts.Active);

        int pipeRead = Kernel.Open("/dev/null\0"u8, 0, 0);
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msix, 0, 1, [pipeRead]));                  // not an eventfd: rolled back
        Assert.Equal(-(int)Errno.EBADF, SetIrqs(fd, Eventfd, Msix, 0, 1, [99_999]));
        Assert.Equal(-1, Edu.Interrupts.Active);
        Kernel.Close(pipeRead);
    }

    [Fact]
    public void Msix_TriggersLoopsBackAndExcludesOtherIndexes()
    {
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        device.WriteConfig32(0x04, 0x6);
        int fd = FdOf(device);

        device.SetIrqTriggers(Msix, 0, [trigger]);
        Assert.Equal((int)Msix, Edu.Interrupts.Active);
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, Msi, 0, 1, [(int)trigger.Fd.DangerousGetHandle()]));   // MSI-X is active
        Assert.Equal(0, SetIrqs(fd, None, Msix, 0, 1, []));                                              // loopback
        Assert.True(trigger.TryRead(out ulong count));
        Assert.Equal(1ul, count);

        Assert.True(Edu.RaiseInterrupt());
        Assert.True(trigger.TryRead(out _));
        device.WriteConfig32(0x04, 0x2);                                                                 // no bus master: no MSI-X message
        Assert.False(Edu.RaiseInterrupt());
        device.WriteConfig32(0x04, 0x6);

        Assert.Equal(0, SetIrqs(fd, None, Msix, 0, 0, []));                                              // disable
        Assert.Equal(-1, Edu.Interrupts.Active);
        Assert.False(Edu.RaiseInterrupt());
    }

    [Fact]
    public void Intx_IsAutomaskedUntilUnmasked()
    {
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        device.SetIrqTriggers(Intx, 0, [trigger]);
        uint unmask = (uint)(Constants.VFIO_IRQ_SET_DATA_NONE | Constants.VFIO_IRQ_SET_ACTION_UNMASK);
        Assert.True(Edu.RaiseInterrupt());
        Assert.False(Edu.RaiseInterrupt());                                                               // masked by the first
        Assert.True(trigger.TryRead(out ulong count));
        Assert.Equal(1ul, count);

        // INTx is level-triggered: unmasked while the line is still up, it stays masked and is sent again
        // (vfio_pci_intx_unmask_handler: pci_check_and_unmask_intx finds it pending).
        Assert.Equal(0, SetIrqs(FdOf(device), unmask, Intx, 0, 1, []));
        Assert.True(trigger.TryRead(out count));
        Assert.Equal(1ul, count);
        Assert.False(Edu.RaiseInterrupt());

        // Acknowledged, the line drops; the next unmask unmasks and the next raise interrupts.
        Edu.LowerIntx();
        Assert.Equal(0, SetIrqs(FdOf(device), unmask, Intx, 0, 1, []));
        Assert.False(trigger.TryRead(out _));
        Assert.True(Edu.RaiseInterrupt());
        Assert.True(trigger.TryRead(out count));
        Assert.Equal(1ul, count);
    }

    [Fact]
    public void MsixEnable_WithNoVectors_IsErange()
    {
        // vfio_msi_enable asks pci_alloc_irq_vectors for 1..start+count vectors: none is ERANGE.
        using VfioDevice device = OpenBound(out _);
        Assert.Equal(-(int)Errno.ERANGE, SetIrqs(FdOf(device), Eventfd, Msix, 0, 0, []));
        Assert.Equal(-1, Edu.Interrupts.Active);
    }

    [Fact]
    public void MsixVector_ThatFailsToChange_LosesItsOldEventfd()
    {
        // vfio_msi_set_vector_signal frees the vector's old trigger before it looks at the new fd.
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        int fd = FdOf(device);
        device.SetIrqTriggers(Msix, 0, [trigger]);
        Assert.Equal(-(int)Errno.EBADF, SetIrqs(fd, Eventfd, Msix, 0, 1, [99_999]));
        Assert.Equal((int)Msix, Edu.Interrupts.Active);                                              // still enabled
        Assert.Equal(0, SetIrqs(fd, None, Msix, 0, 1, []));                                          // loopback: no eventfd left
        Assert.False(trigger.TryRead(out _));
    }

    [Fact]
    public void MsixVector_PastThoseEnabled_IsAllocated()
    {
        // Dynamic MSI-X (vfio_msi_alloc_irq): a vector added while MSI-X is enabled gets its interrupt.
        var express = new Abi.Engine.Devices.E1000eDevice();
        using VfioDevice e1000e = VfioDevice.OpenCdev(Kernel.AddDevice(express).CdevPath!, Kernel);
        e1000e.BindIommufd(Iommufd);
        using EventFd first = EventFd.Create(Kernel);
        using EventFd added = EventFd.Create(Kernel);
        int fd = FdOf(e1000e);
        e1000e.SetIrqTriggers(Msix, 0, [first]);
        Assert.Equal(0, SetIrqs(fd, Eventfd, Msix, 3, 1, [(int)added.Fd.DangerousGetHandle()]));
        Assert.Equal(0, SetIrqs(fd, None, Msix, 0, 4, []));                                          // loopback on 0..3
        Assert.True(first.TryRead(out ulong one));
        Assert.True(added.TryRead(out ulong other));
        Assert.Equal((1ul, 1ul), (one, other));
    }

    [Fact]
    public void ReqEventfd_BelowMinusOne_IsEinval()
    {
        // vfio_pci_set_ctx_trigger_single: -1 lets the eventfd go, an fd sets one, anything else is EINVAL.
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        int fd = FdOf(device);
        uint req = Constants.VFIO_PCI_REQ_IRQ_INDEX;
        Assert.Equal(0, SetIrqs(fd, Eventfd, req, 0, 1, [(int)trigger.Fd.DangerousGetHandle()]));
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, Eventfd, req, 0, 1, [-2]));
        Assert.Equal(0, SetIrqs(fd, None, req, 0, 1, []));                                           // the eventfd stayed
        Assert.True(trigger.TryRead(out _));
        Assert.Equal(0, SetIrqs(fd, Eventfd, req, 0, 1, [-1]));
        Assert.Equal(-(int)Errno.EINVAL, SetIrqs(fd, None, req, 0, 1, []));                          // gone
    }

    private unsafe int SetIrqs(int fd, uint flags, uint index, uint start, uint count, int[] fds, uint? argsz = null)
    {
        byte[] buffer = new byte[20 + (fds.Length * 4)];
        ref vfio_irq_set set = ref MemoryMarshal.AsRef<vfio_irq_set>(buffer.AsSpan());
        set.argsz = argsz ?? (uint)buffer.Length;
        set.flags = flags;
        set.index = index;
        set.start = start;
        set.count = count;
        MemoryMarshal.AsBytes(fds.AsSpan()).CopyTo(buffer.AsSpan(20));
        return Ioctl(fd, Constants.VFIO_DEVICE_SET_IRQS, buffer);
    }
}
