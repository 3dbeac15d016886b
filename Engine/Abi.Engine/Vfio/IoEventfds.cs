using Abi.Engine.Pci;
using Abi.Interop;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>
/// A device's ioeventfds (drivers/vfio/pci/vfio_pci_rdwr.c: vfio_pci_ioeventfd): each is a BAR write
/// of fixed data and width that a signal on its eventfd performs, as a VMM's doorbell writes skip the
/// trip through user space. Registration checks the BAR, the range and the MSI-X table, then matches
/// an existing ioeventfd (same BAR, offset, data and width: fd -1 removes it, any other is EEXIST);
/// new ones need an fd and stay below <see cref="Max"/>. Closing the device removes them all.
/// </summary>
internal sealed class IoEventfds(PciDevice model, Func<bool> memoryEnabled)
{
    /// <summary>VFIO_PCI_IOEVENTFD_MAX.</summary>
    public const int Max = 1000;

    private const int OffsetShift = 40;
    private readonly Lock _lock = new();
    private volatile Entry[] _entries = [];        // replaced whole under the lock; read without it on delivery

    /// <summary>How many are registered (ioeventfds_nr).</summary>
    public int Count => _entries.Length;

    /// <summary>vfio_pci_ioeventfd, after VFIO_DEVICE_IOEVENTFD's own checks (argsz, flags, width, fd ≥ -1).</summary>
    public int Set(ulong offset, ulong data, int width, int fd)
    {
        ulong index = offset >> OffsetShift;
        ulong position = offset & ((1UL << OffsetShift) - 1);
        if (index > Abi.Linux.Constants.VFIO_PCI_BAR5_REGION_INDEX)
        {
            return Fail(Errno.EINVAL, $"region {index} is not a BAR: ioeventfds write only into BARs");
        }

        ulong length = model.Bars[(int)index]?.Size ?? 0;              // pci_resource_len: 0 for no BAR
        if (position + (ulong)width > length)
        {
            return Fail(Errno.EINVAL, $"[0x{position:X}, +{width}) is past BAR {index} (0x{length:X} bytes)");
        }

        (int msixBar, ulong msixStart, ulong msixLength) = model.MsixTable;
        if ((int)index == msixBar && !(position + (ulong)width <= msixStart || position >= msixStart + msixLength))
        {
            return Fail(Errno.EINVAL, "an ioeventfd may not write into the MSI-X table");
        }

        if (width == 8)
        {
            return Fail(Errno.EINVAL, "8-byte ioeventfds are not supported");   // the 7.2 kernel refuses them everywhere
        }

        lock (_lock)
        {
            foreach (Entry entry in _entries)
            {
                if (entry.Position == position && entry.Bar == (int)index && entry.Data == data && entry.Width == width)
                {
                    if (fd != -1)
                    {
                        return Fail(Errno.EEXIST, $"BAR {index} +0x{position:X} already has an ioeventfd for data 0x{data:X}");
                    }

                    entry.Virqfd.Disable();
                    _entries = Array.FindAll(_entries, e => e != entry);
                    return 0;
                }
            }

            if (fd < 0)
            {
                return Fail(Errno.ENODEV, "no ioeventfd to remove there");
            }

            if (_entries.Length >= Max)
            {
                return Fail(Errno.ENOSPC, $"the device has {Max} ioeventfds already");
            }

            if (Virqfd.Create(fd, Deliver, out Virqfd? virqfd) is int failed)
            {
                return failed;
            }

            // Known before it is armed: arming delivers a signal the eventfd holds already.
            var added = new Entry((int)index, position, data, width, virqfd!);
            _entries = [.. _entries, added];
            int armed = virqfd!.Arm();
            if (armed != 0)
            {
                _entries = Array.FindAll(_entries, e => e != added);
                virqfd.Disable();
            }

            return armed;
        }
    }

    /// <summary>vfio_pci_core_disable: every ioeventfd goes.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            foreach (Entry entry in _entries)
            {
                entry.Virqfd.Disable();
            }

            _entries = [];
        }
    }

    /// <summary>
    /// vfio_pci_ioeventfd_handler: the write, dropped (vfio_pci_core_iowrite*'s test_mem) when a memory
    /// BAR's decoding is off. Without the registry's lock: a removal holds it while it waits for this.
    /// </summary>
    private void Deliver(Virqfd virqfd)
    {
        Entry? entry = Array.Find(_entries, e => e.Virqfd == virqfd);
        if (entry is null || model.Bars[entry.Bar] is not PciBar bar || (!bar.IsIo && !memoryEnabled()))
        {
            return;
        }

        bar.Handler.Write((long)entry.Position, entry.Width, entry.Data & ((1UL << (8 * entry.Width)) - 1));
    }

    private sealed record Entry(int Bar, ulong Position, ulong Data, int Width, Virqfd Virqfd);
}
