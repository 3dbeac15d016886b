using System.Buffers.Binary;
using Abi.Engine.Devices;
using Abi.Linux;
using Abi.Runtime.Kernel;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>
/// Config space through vfio-pci's virtualization (vfio_pci_config.c) over a function that behaves as
/// QEMU's models do: which bits are the copy's, which the function's, and what the ioctls change there.
/// </summary>
public sealed class ConfigVirtualizationTests : DeviceTest
{
    private const long Config = 7L << 40;

    private VfioDevice OpenBound(Pci.PciDevice model)
    {
        VfioDevice device = VfioDevice.OpenCdev(Kernel.AddDevice(model).CdevPath!, Kernel);
        device.BindIommufd(Iommufd);
        return device;
    }

    private ushort Read16(VfioDevice device, int offset)
    {
        byte[] bytes = new byte[2];
        Assert.Equal(2, Kernel.Pread(FdOf(device), bytes, Config + offset));
        return BinaryPrimitives.ReadUInt16LittleEndian(bytes);
    }

    private void Write(VfioDevice device, int offset, params byte[] bytes) =>
        Assert.Equal(bytes.Length, Kernel.Pwrite(FdOf(device), bytes, Config + offset));

    private unsafe int SetIrqs(VfioDevice device, int action)
    {
        var set = new vfio_irq_set { argsz = 20, flags = (uint)(Constants.VFIO_IRQ_SET_DATA_NONE | action), index = Constants.VFIO_PCI_INTX_IRQ_INDEX, count = 1 };
        return Kernel.Ioctl(FdOf(device), Constants.VFIO_DEVICE_SET_IRQS, (nint)(&set));
    }

    [Fact]
    public void TheRomBar_AnswersSizing_WithItsEnableBit()
    {
        // vfio_bar_fixup: the ROM BAR keeps what was written under ~(size - 1) | enable; QEMU's
        // vfio_pci_size_rom sizes a ROM this way before it shows one to a guest.
        using VfioDevice e1000e = OpenBound(new E1000eDevice());
        e1000e.WriteConfig32(0x30, 0xFFFF_FFFF);
        Assert.Equal(0xFFFC_0001u, e1000e.ReadConfig32(0x30));            // a 256 KiB ROM
        e1000e.WriteConfig32(0x30, 0xFFFF_F800);
        Assert.Equal(0xFFFC_0000u, e1000e.ReadConfig32(0x30));

        using VfioDevice edu = OpenBound(out _);
        edu.WriteConfig32(0x30, 0xFFFF_FFFF);
        Assert.Equal(0u, edu.ReadConfig32(0x30));                            // no ROM: 0
    }

    [Fact]
    public void AVirtioBar_SizesAsA64BitPrefetchableBar()
    {
        // vfio_generate_bar_flags: the type bits come from the resource; QEMU's modern virtio BAR (BAR4)
        // is 64-bit and prefetchable, and its upper half sizes too.
        using VfioDevice virtio = OpenBound(new Devices.Virtio.VirtioNetDevice([2, 0, 0, 0, 0, 1]));
        virtio.WriteConfig32(0x20, 0xFFFF_FFFF);
        virtio.WriteConfig32(0x24, 0xFFFF_FFFF);
        VfioRegionInfo bar4 = virtio.GetRegionInfo(4);
        Assert.Equal((uint)~(bar4.Size - 1) | 0xCu, virtio.ReadConfig32(0x20));
        Assert.Equal(0xFFFF_FFFFu, virtio.ReadConfig32(0x24));
    }

    [Fact]
    public void MsixControl_IsTheFunctions_ReadOnly_AndFollowsSetIrqs()
    {
        // cap_perms[MSI-X] has no write function: writes are dropped; the enable bit is the one the
        // host sets when VFIO_DEVICE_SET_IRQS enables MSI-X.
        using VfioDevice device = OpenBound(out _);
        int msix = 0x50, control = msix + 2;
        Assert.Equal(0x11u, device.ReadConfig32(msix) & 0xFF);             // the capability id
        Write(device, control, 0x00, 0xC0);
        Assert.Equal(0, Read16(device, control) & 0xC000);

        using EventFd trigger = EventFd.Create(Kernel);
        device.SetIrqTriggers(Constants.VFIO_PCI_MSIX_IRQ_INDEX, 0, [trigger]);
        Assert.Equal(0x8000, Read16(device, control) & 0xC000);
        device.DisableIrqs(Constants.VFIO_PCI_MSIX_IRQ_INDEX);
        Assert.Equal(0, Read16(device, control) & 0xC000);
    }

    [Fact]
    public void MsiControl_IsVirtual_AndEnabledOnlyByTheIoctl()
    {
        // init_pci_cap_msi_perm: the low byte of the flags and the address are virtual and writable whole;
        // vfio_msi_config_write clears enable unless MSI is the active index and caps the queue size.
        using VfioDevice device = OpenBound(out _);
        const int msi = 0x40, flags = msi + 2;
        Write(device, flags, 0x81);
        Assert.Equal(0x80, Read16(device, flags));
        Write(device, flags, 0x01);
        Assert.Equal(0x00, Read16(device, flags));                          // even the 64-bit bit is the user's to lose
        Write(device, flags, 0x90);
        Assert.Equal(0x80, Read16(device, flags));                          // queue size capped at what was allocated (none yet)
        device.WriteConfig32(msi + 4, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_FFFFu, device.ReadConfig32(msi + 4));            // the address is not masked to a dword

        using EventFd trigger = EventFd.Create(Kernel);
        device.SetIrqTriggers(Constants.VFIO_PCI_MSI_IRQ_INDEX, 0, [trigger]);
        Write(device, flags, 0x81);
        Assert.Equal(0x81, Read16(device, flags));
    }

    [Fact]
    public void ExpressDeviceControl_KeepsMpsAndMrrs_AndClearsFlr()
    {
        // init_pci_cap_exp_perm: device control's payload and read request sizes are virtual and writable;
        // vfio_exp_config_write reads FLR back as 0.
        using VfioDevice device = OpenBound(new E1000eDevice());
        int express = 0x5C, control = express + 8;
        Assert.Equal(0x10u, device.ReadConfig32(express) & 0xFF);
        Write(device, control, 0x20, 0x50);
        Assert.Equal(0x5020, Read16(device, control));
        Write(device, control, 0x20, 0xD0);
        Assert.Equal(0x5020, Read16(device, control));
    }

    [Fact]
    public void TheCommandRegister_TakesQemusBits_AndBytesPastTheCapabilitiesKeepWhatIsWritten()
    {
        // The command register's bits are the function's: QEMU's write mask has no parity bit. Bytes no
        // capability claims pass through raw, and the function keeps them across a close.
        using (VfioDevice device = OpenBound(out _))
        {
            Write(device, 4, 0x46, 0x01);
            Assert.Equal(0x0106, Read16(device, 4));
            Write(device, 0x80, 0x5A, 0xA5);
            Assert.Equal(0xA55A, Read16(device, 0x80));
        }

        using VfioDevice again = OpenBound(out _);
        Assert.Equal(0xA55A, Read16(again, 0x80));
    }

    [Fact]
    public void IntxDisable_IsEmulated_MaskingAndUnmaskingIntx()
    {
        // vfio_basic_config_write: INTx disable is the copy's; set, INTx is masked and a loopback sends
        // nothing (vfio_send_intx_eventfd); cleared, INTx is unmasked, and a line still up interrupts again.
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        device.SetIrqTriggers(Constants.VFIO_PCI_INTX_IRQ_INDEX, 0, [trigger]);
        ushort command = Read16(device, 4);
        Write(device, 4, (byte)command, (byte)((command | 0x400) >> 8));
        Assert.Equal(command | 0x400, Read16(device, 4));
        Assert.False(Edu.RaiseInterrupt());
        Assert.False(trigger.TryRead(out _));
        Assert.Equal(0, SetIrqs(device, Constants.VFIO_IRQ_SET_ACTION_TRIGGER));   // the loopback sends nothing either
        Assert.False(trigger.TryRead(out _));

        Write(device, 4, (byte)command, (byte)(command >> 8));
        Assert.True(trigger.TryRead(out ulong count));                       // the line is still up: sent at the unmask
        Assert.Equal(1ul, count);
        Edu.LowerIntx();
        Assert.Equal(0, SetIrqs(device, Constants.VFIO_IRQ_SET_ACTION_UNMASK));
        Assert.True(Edu.RaiseInterrupt());
    }

    [Fact]
    public void TheStatusRegister_ShowsTheIntxLine_AndAResetDropsIt()
    {
        // The status register's interrupt bit is the function's (QEMU's pci_update_irq_status); a
        // function reset lowers the line, so the next unmask has nothing to send again.
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        device.SetIrqTriggers(Constants.VFIO_PCI_INTX_IRQ_INDEX, 0, [trigger]);
        Assert.Equal(0, Read16(device, 6) & 0x08);
        Assert.True(Edu.RaiseInterrupt());
        Assert.Equal(0x08, Read16(device, 6) & 0x08);
        Assert.True(trigger.TryRead(out _));

        device.Reset();
        Assert.Equal(0, Read16(device, 6) & 0x08);
        Assert.Equal(0, SetIrqs(device, Constants.VFIO_IRQ_SET_ACTION_UNMASK));
        Assert.False(trigger.TryRead(out _));
        Assert.False(Edu.Interrupts.IntxMasked);
    }
}
