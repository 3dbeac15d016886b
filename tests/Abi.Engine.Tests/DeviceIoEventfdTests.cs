using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Vfio;

namespace Abi.Engine.Tests;

/// <summary>
/// VFIO_DEVICE_IOEVENTFD (vfio_pci_core.c: vfio_pci_ioctl_ioeventfd; vfio_pci_rdwr.c: vfio_pci_ioeventfd)
/// and INTx's unmask eventfd (vfio_pci_intrs.c: vfio_pci_set_intx_unmask), both eventfds the engine acts on
/// when they are signalled (virqfd.c).
/// </summary>
public sealed class DeviceIoEventfdTests : DeviceTest
{
    private const uint Liveness = 0x04;                 // edu: reads back the inverse of what was written

    [Fact]
    public void Ioeventfd_WritesItsDataIntoTheBar_WhenSignalled()
    {
        using VfioDevice device = OpenBound(out _);
        VfioRegionInfo bar0 = device.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX);
        using EventFd doorbell = EventFd.Create(Kernel);
        device.AddIoEventfd(bar0, Liveness, 4, 0x1234_5678, doorbell);
        Assert.Equal(0u, ReadBar32(device, bar0, Liveness));            // nothing written yet (QEMU's edu reads 0)

        doorbell.Signal();                                               // a write the engine does not make: the watcher's thread acts
        Assert.True(SpinWait.SpinUntil(() => ReadBar32(device, bar0, Liveness) == ~0x1234_5678u, TimeSpan.FromSeconds(10)));
        Assert.False(doorbell.TryRead(out _));                          // the write took the count

        device.RemoveIoEventfd(bar0, Liveness, 4, 0x1234_5678);
        device.WriteRegion(bar0, Liveness, BitConverter.GetBytes(0u));
        doorbell.Signal();
        Assert.True(doorbell.Wait(1000));                               // nobody takes the count now
        Assert.Equal(~0u, ReadBar32(device, bar0, Liveness));
    }

    [Fact]
    public void Ioeventfd_AlreadySignalled_WritesWhenRegistered()
    {
        // vfio_virqfd_enable runs the handler for a signal it finds pending.
        using VfioDevice device = OpenBound(out _);
        VfioRegionInfo bar0 = device.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX);
        using EventFd doorbell = EventFd.Create(Kernel, initialValue: 1);
        device.AddIoEventfd(bar0, Liveness, 4, 0xBEEF, doorbell);
        Assert.Equal(~0xBEEFu, ReadBar32(device, bar0, Liveness));
    }

    [Fact]
    public void Ioeventfd_ChecksInTheKernelsOrder()
    {
        using VfioDevice device = OpenBound(out _);
        using EventFd efd = EventFd.Create(Kernel);
        int fd = FdOf(device), e = (int)efd.Fd.DangerousGetHandle();
        int notEventfd = Kernel.Open("/dev/null\0"u8, 0, 0);
        ulong bar0 = 0, bar1 = 1UL << 40;
        (ulong start, ulong length) = (Edu.MsixTable.Offset, Edu.MsixTable.Length);

        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, bar0 + 4, 1, e, argsz: 27));       // argsz below offsetofend(fd)
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 0x14, bar0 + 4, 1, e));               // unknown flag
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 3, bar0 + 4, 1, e));                  // two widths
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 0, bar0 + 4, 1, e));                  // no width
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, bar0 + 4, 1, -2));                 // fd below -1
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, 6UL << 40, 1, e));                 // the ROM is no BAR
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, bar1, 1, e));                      // no BAR 1
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, bar0 + (1 << 20) - 2, 1, e));      // past the 1 MiB BAR
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, bar0 + start + length - 2, 1, e)); // into the MSI-X table
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 8, bar0 + 8, 1, e));                  // 8 bytes: refused in 7.2
        Assert.Equal(-(int)Errno.ENODEV, IoEventfd(fd, 4, bar0 + 4, 1, -1));                 // nothing to remove
        Assert.Equal(-(int)Errno.EBADF, IoEventfd(fd, 4, bar0 + 4, 1, 99_999));
        Assert.Equal(-(int)Errno.EINVAL, IoEventfd(fd, 4, bar0 + 4, 1, notEventfd));
        Assert.Equal(0, IoEventfdsOf(device).Count);

        Assert.Equal(0, IoEventfd(fd, 4, bar0 + 4, 1, e));
        Assert.Equal(-(int)Errno.EEXIST, IoEventfd(fd, 4, bar0 + 4, 1, e));                  // the same write
        Assert.Equal(-(int)Errno.EEXIST, IoEventfd(fd, 4, bar0 + 4, 1, 99_999));             // matched before the fd is looked at
        Assert.Equal(0, IoEventfd(fd, 4, bar0 + 4, 2, e));                                   // other data: another one
        Assert.Equal(0, IoEventfd(fd, 2, bar0 + 4, 1, e));                                   // other width: another one
        Assert.Equal(3, IoEventfdsOf(device).Count);
        Assert.Equal(0, IoEventfd(fd, 4, bar0 + 4, 1, -1));
        Assert.Equal(-(int)Errno.ENODEV, IoEventfd(fd, 4, bar0 + 4, 1, -1));
        Assert.Equal(2, IoEventfdsOf(device).Count);
        Kernel.Close(notEventfd);
    }

    [Fact]
    public void ClosingTheDevice_RemovesItsIoeventfds()
    {
        using EventFd doorbell = EventFd.Create(Kernel);
        Vfio.IoEventfds registry;
        using (VfioDevice device = OpenBound(out _))
        {
            device.AddIoEventfd(device.GetRegionInfo(0), Liveness, 4, 7, doorbell);
            registry = IoEventfdsOf(device);
            Assert.Equal(1, registry.Count);
        }

        Assert.Equal(0, registry.Count);
    }

    [Fact]
    public void IntxUnmaskEventfd_UnmasksWhenSignalled()
    {
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        using EventFd unmask = EventFd.Create(Kernel);
        int fd = FdOf(device);
        device.SetIrqTriggers(Constants.VFIO_PCI_INTX_IRQ_INDEX, 0, [trigger]);
        Assert.Equal(0, Unmask(fd, (int)unmask.Fd.DangerousGetHandle()));
        Assert.Equal(-(int)Errno.EBUSY, Unmask(fd, (int)unmask.Fd.DangerousGetHandle()));   // one unmask eventfd
        Assert.Equal(-(int)Errno.EBADF, Unmask(fd, 99_999));                                 // the fd is checked first

        Assert.True(Edu.RaiseInterrupt());
        Assert.False(Edu.RaiseInterrupt());                                                   // automasked
        Edu.LowerIntx();                                                                      // acknowledged
        unmask.Signal();
        Assert.True(SpinWait.SpinUntil(() => !Edu.Interrupts.IntxMasked, TimeSpan.FromSeconds(10)));
        Assert.True(Edu.RaiseInterrupt());

        Assert.Equal(0, Unmask(fd, -1));                                                      // taken away
        unmask.Signal();
        Assert.True(unmask.Wait(1000));
        Assert.False(Edu.RaiseInterrupt());                                                   // still masked
    }

    [Fact]
    public void IntxUnmaskEventfd_ThatIsAlsoTheTrigger_UnmasksInsideTheInterrupt()
    {
        // The kernel's virqfd wakes inside eventfd_signal: the interrupt's own signal unmasks INTx at once
        // and its count is the virqfd's, not the reader's.
        using VfioDevice device = OpenBound(out _);
        using EventFd both = EventFd.Create(Kernel);
        device.SetIrqTriggers(Constants.VFIO_PCI_INTX_IRQ_INDEX, 0, [both]);
        Assert.Equal(0, Unmask(FdOf(device), (int)both.Fd.DangerousGetHandle()));
        Assert.True(Edu.RaiseInterrupt());

        // The line is still up when the unmask runs: INTx stays masked and the interrupt is sent again,
        // which unmasks again, until the device lowers the line (the kernel's virqfd thread does the same).
        Assert.False(Edu.RaiseInterrupt());
        Edu.LowerIntx();
        both.Signal();                                                                        // an unmask with the line down
        Assert.True(SpinWait.SpinUntil(() => !Edu.Interrupts.IntxMasked, TimeSpan.FromSeconds(10)), "INTx stayed masked with the line down");
        Assert.True(Edu.RaiseInterrupt());
    }

    [Fact]
    public void AnInterrupt_WakesEveryVirqfdOnItsEventfd()
    {
        // virqfd_wakeup runs for every waiter on the eventfd: an INTx trigger that is also its unmask
        // eventfd and an ioeventfd's eventfd unmasks and writes the BAR, both before the raise returns.
        using VfioDevice device = OpenBound(out _);
        using EventFd shared = EventFd.Create(Kernel);
        VfioRegionInfo bar0 = IntxWithSharedUnmask(device, shared, shared);

        Assert.True(Edu.RaiseInterrupt());
        Assert.Equal(~0x55u, ReadBar32(device, bar0, Liveness));
        Assert.False(Edu.RaiseInterrupt());                                                   // the line is still up: masked, sent again
        Edu.LowerIntx();
        shared.Signal();                                                                      // an unmask with the line down, whatever the resends did
        Assert.True(SpinWait.SpinUntil(() => !Edu.Interrupts.IntxMasked, TimeSpan.FromSeconds(10)), "an unmask with the line down did not unmask INTx");
        Assert.True(Edu.RaiseInterrupt());
    }

    [Fact]
    public void AWriteFromOutside_WakesEveryVirqfdOnItsEventfd()
    {
        // The same for a write the engine does not make (the watcher sees it): the INTx unmask eventfd
        // is also an ioeventfd's, and one write both unmasks INTx and writes the BAR.
        using VfioDevice device = OpenBound(out _);
        using EventFd trigger = EventFd.Create(Kernel);
        using EventFd shared = EventFd.Create(Kernel);
        VfioRegionInfo bar0 = IntxWithSharedUnmask(device, trigger, shared);
        Assert.True(Edu.RaiseInterrupt());
        Assert.False(Edu.RaiseInterrupt());                                                   // automasked
        Edu.LowerIntx();                                                                      // acknowledged

        shared.Signal();
        Assert.True(SpinWait.SpinUntil(() => ReadBar32(device, bar0, Liveness) == ~0x55u, TimeSpan.FromSeconds(10)), "the ioeventfd did not write the BAR");
        Assert.True(SpinWait.SpinUntil(() => !Edu.Interrupts.IntxMasked, TimeSpan.FromSeconds(10)), "INTx was not unmasked");
        Assert.True(Edu.RaiseInterrupt());
        Assert.False(shared.TryRead(out _));                                                  // the count went to the virqfds
    }

    [Fact]
    public void AnEngineSignal_ThatFindsAVirqfdBusy_IsOwedToIt()
    {
        // Two virqfds on one eventfd; a write from outside makes the watcher run both, and one of them
        // blocks there. An engine signal meanwhile: the free one takes it at once (nothing is written),
        // and the busy one runs for it when its handler returns, instead of never.
        using EventFd shared = EventFd.Create(Kernel);
        int fd = (int)shared.Fd.DangerousGetHandle();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int slowCalls = 0, quickCalls = 0;
        Pci.Virqfd? slow = null, quick = null;
        try
        {
            Assert.Null(Pci.Virqfd.Create(fd, _ => { Interlocked.Increment(ref slowCalls); entered.Set(); release.Wait(TimeSpan.FromSeconds(20)); }, out slow));
            Assert.Null(Pci.Virqfd.Create(fd, _ => Interlocked.Increment(ref quickCalls), out quick));
            Assert.Equal(0, slow!.Arm());
            Assert.Equal(0, quick!.Arm());
            shared.Signal();
            Assert.True(entered.Wait(TimeSpan.FromSeconds(10)), "the watcher never ran the slow handler");
            Assert.True(Pci.VirqfdWatcher.TakeEngineSignal(fd));
            Assert.True(Volatile.Read(ref quickCalls) >= 1);
            Assert.Equal(1, Volatile.Read(ref slowCalls));
            release.Set();
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref slowCalls) == 2 && Volatile.Read(ref quickCalls) == 2, TimeSpan.FromSeconds(10)),
                $"slow ran {slowCalls} times, quick {quickCalls}; each should run once for the write and once for the engine's signal");
            Thread.Sleep(50);
            Assert.Equal((2, 2), (Volatile.Read(ref slowCalls), Volatile.Read(ref quickCalls)));
        }
        finally
        {
            release.Set();
            slow?.Disable();
            quick?.Disable();
            Pci.VirqfdWatcher.Forget(fd);
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AHandlerThatThrows_IsReported_AndTheOthersOnItsEventfdStillRun(bool throwingFirst)
    {
        // A device model's handler that throws, on the engine's own signal and on a write from outside:
        // the signal was taken (the handler runs after reading the count), the failure is reported where
        // the handler runs and reaches no caller, and the other virqfd on the eventfd still runs. Made in
        // both orders, so that each is the one the watcher reports first (epoll reports in its own order).
        using EventFd shared = EventFd.Create(Kernel);
        int fd = (int)shared.Fd.DangerousGetHandle();
        int failing = 0, working = 0;
        Action<Pci.Virqfd> throwing = _ => { Interlocked.Increment(ref failing); throw new InvalidOperationException("a device model's bug"); };
        Action<Pci.Virqfd> counting = _ => Interlocked.Increment(ref working);
        Pci.Virqfd? first = null, second = null;
        try
        {
            Assert.Null(Pci.Virqfd.Create(fd, throwingFirst ? throwing : counting, out first));
            Assert.Null(Pci.Virqfd.Create(fd, throwingFirst ? counting : throwing, out second));
            Assert.Equal(0, first!.Arm());
            Assert.Equal(0, second!.Arm());
            Assert.True(Pci.VirqfdWatcher.TakeEngineSignal(fd));
            Assert.Equal((1, 1), (Volatile.Read(ref failing), Volatile.Read(ref working)));

            shared.Signal();
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref failing) == 2 && Volatile.Read(ref working) == 2, TimeSpan.FromSeconds(10)),
                $"after the write the failing handler ran {failing} times, the working one {working}; each should run twice");
            Assert.False(shared.TryRead(out _));                     // the write's count went to the virqfds
        }
        finally
        {
            first?.Disable();
            second?.Disable();
            Pci.VirqfdWatcher.Forget(fd);
        }
    }

    /// <summary>INTx triggers <paramref name="trigger"/>; <paramref name="shared"/> both unmasks it and is an ioeventfd writing 0x55 to edu's liveness register. Returns BAR0.</summary>
    private VfioRegionInfo IntxWithSharedUnmask(VfioDevice device, EventFd trigger, EventFd shared)
    {
        VfioRegionInfo bar0 = device.GetRegionInfo(Constants.VFIO_PCI_BAR0_REGION_INDEX);
        device.SetIrqTriggers(Constants.VFIO_PCI_INTX_IRQ_INDEX, 0, [trigger]);
        Assert.Equal(0, Unmask(FdOf(device), (int)shared.Fd.DangerousGetHandle()));
        device.AddIoEventfd(bar0, Liveness, 4, 0x55, shared);
        return bar0;
    }

    private Vfio.IoEventfds IoEventfdsOf(VfioDevice device) => ((Vfio.VfioDeviceFile)Kernel.FileOf(FdOf(device))!).Device.IoEventfds;

    private static uint ReadBar32(VfioDevice device, VfioRegionInfo bar, long offset)
    {
        Span<byte> value = stackalloc byte[4];
        device.ReadRegion(bar, offset, value);
        return BitConverter.ToUInt32(value);
    }

    private int Unmask(int fd, int eventfd)
    {
        byte[] buffer = new byte[24];
        ref vfio_irq_set set = ref MemoryMarshal.AsRef<vfio_irq_set>(buffer.AsSpan());
        set.argsz = 24;
        set.flags = (uint)(Constants.VFIO_IRQ_SET_DATA_EVENTFD | Constants.VFIO_IRQ_SET_ACTION_UNMASK);
        set.index = Constants.VFIO_PCI_INTX_IRQ_INDEX;
        set.count = 1;
        BitConverter.TryWriteBytes(buffer.AsSpan(20), eventfd);
        return Ioctl(fd, Constants.VFIO_DEVICE_SET_IRQS, buffer);
    }

    private int IoEventfd(int fd, uint flags, ulong offset, ulong data, int eventfd, uint argsz = 32)
    {
        var request = new vfio_device_ioeventfd { argsz = argsz, flags = flags, offset = offset, data = data, fd = eventfd };
        return Ioctl(fd, Constants.VFIO_DEVICE_IOEVENTFD, MemoryMarshal.AsBytes(new Span<vfio_device_ioeventfd>(ref request)));
    }
}
