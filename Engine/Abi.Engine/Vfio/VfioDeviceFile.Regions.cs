using System.Runtime.InteropServices;
using Abi.Engine.Pci;
using Abi.Engine.Process;
using Abi.Interop;
using Abi.Linux;
using Abi.Runtime.Kernel;
using static Abi.Engine.EngineDiagnostics;

namespace Abi.Engine.Vfio;

/// <summary>Regions (vfio_pci_core.c: vfio_pci_ioctl_get_region_info, vfio_pci_rw): info with capability chains, and region reads and writes.</summary>
internal abstract unsafe partial class VfioDeviceFile
{
    private const int OffsetShift = 40;
    private const ulong InRegionMask = (1UL << OffsetShift) - 1;

    /// <summary>The trapped register file behind a whole BAR region at file offset <paramref name="offset"/> (the C# API's MapRegion).</summary>
    public IMmioHandler? MmioHandler(long offset, long length)
    {
        int index = (int)((ulong)offset >> OffsetShift);
        return Usable && index < 6 && Model.Bars[index] is PciBar bar && bar.Handler is not PciMemory && !bar.IsIo && ((ulong)offset & InRegionMask) == 0 && (ulong)length <= bar.Size ? bar.Handler : null;
    }

    /// <summary>
    /// vfio_device_fops_mmap and vfio_pci_core_mmap's checks, in their order, for a mapping of
    /// <paramref name="length"/> bytes (the vma's, page-rounded) at file offset <paramref name="offset"/>:
    /// the BAR and the offset inside it, or the errno. Any page of a BAR may be mapped, not only its start.
    /// </summary>
    public int MmapRegion(long offset, ulong length, int flags, out PciBar? bar, out long inBar)
    {
        bar = null;
        inBar = (long)((ulong)offset & InRegionMask);
        ulong index = (ulong)offset >> OffsetShift;
        if (!Usable)
        {
            return Fail(Errno.EINVAL, $"{Name} is not bound to an iommufd yet");
        }

        if (index >= Constants.VFIO_PCI_NUM_REGIONS)
        {
            return Fail(Errno.EINVAL, $"offset 0x{offset:X} selects region {index}, past the last");
        }

        if ((flags & LinuxConstants.MAP_SHARED) == 0)
        {
            // A private copy would be memory the device never sees.
            return Fail(Errno.EINVAL, "a region can only be mapped MAP_SHARED");
        }

        if (index >= Constants.VFIO_PCI_ROM_REGION_INDEX)
        {
            return Fail(Errno.EINVAL, $"region {index} (the ROM, config space or VGA) cannot be mapped");
        }

        PciBar? found = Model.Bars[(int)index];
        if (found is null || found.IsIo)
        {
            return Fail(Errno.EINVAL, $"BAR {index} is {(found is null ? "not implemented" : "I/O space")}: it cannot be mapped");
        }

        ulong pageAligned = LinuxConstants.PageAlign(found.Size);
        if ((ulong)inBar + length > pageAligned || (ulong)inBar + length < length)
        {
            return Fail(Errno.EINVAL, $"0x{length:X} bytes at 0x{inBar:X} run past BAR {index}'s 0x{pageAligned:X}");
        }

        bar = found;
        return 0;
    }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => true;

    /// <summary>
    /// vfio_main.c: vfio_device_fops_read/write refuse an fd without access (an unbound cdev);
    /// vfio_pci_core_read/write answer 0 bytes with 0; then the region's checks, before the buffer is touched.
    /// </summary>
    public override long CheckCount(long count, long offset, bool write) =>
        !Usable ? -(long)Errno.EINVAL : count == 0 ? 0 : RegionCheck((ulong)offset, (ulong)count, write);

    /// <summary>
    /// What vfio_pci_rw and the region's handler refuse before their first copy from or to the caller
    /// (a write's bytes are copied chunk by chunk as they go to the device): an index past the last, a
    /// config range past config space (vfio_pci_config_rw_single: EFAULT), a BAR that is not there or an
    /// offset past it (vfio_pci_bar_rw), a ROM write or a ROM the device lacks, VGA (no function has it).
    /// </summary>
    private long RegionCheck(ulong offset, ulong count, bool write)
    {
        ulong index = offset >> OffsetShift;
        ulong at = offset & InRegionMask;
        ulong configSize = (ulong)Model.ConfigSize;
        return index switch
        {
            >= Constants.VFIO_PCI_NUM_REGIONS => Fail(Errno.EINVAL, $"offset 0x{offset:X} selects region {index}, past the last"),
            Constants.VFIO_PCI_CONFIG_REGION_INDEX when at >= configSize || count > configSize - at
                => Fail(Errno.EFAULT, $"config access at 0x{at:X}+{count} is past the {configSize}-byte config space"),
            Constants.VFIO_PCI_CONFIG_REGION_INDEX => 0,
            < 6 when Model.Bars[(int)index] is not PciBar bar => Fail(Errno.EINVAL, $"BAR {index} is not implemented"),
            < 6 when at >= Model.Bars[(int)index]!.Size => Fail(Errno.EINVAL, $"offset 0x{at:X} is past BAR {index}"),
            < 6 => 0,
            Constants.VFIO_PCI_ROM_REGION_INDEX when !write && Model.OptionRomSize != 0 && at >= Model.OptionRomSize
                => Fail(Errno.EINVAL, $"offset 0x{at:X} is past the {Model.OptionRomSize}-byte option ROM"),
            Constants.VFIO_PCI_ROM_REGION_INDEX when !write && Model.OptionRomSize != 0 => 0,
            _ => Fail(Errno.EINVAL, $"region {index} cannot be {(write ? "written" : "read")} on this device"),
        };
    }

    public override long Pread(Span<byte> buffer, long offset) => RegionAccess(buffer, offset, write: false, buffer.Length);

    // read and write go through the file position (vfio_pci_rw advances *ppos by what it did); the fd
    // cannot seek (no llseek), so only they move it, from 0: BAR0's first byte.
    protected override bool MovesPosition(bool write) => true;

    public override long Read(Span<byte> buffer) => RegionAccess(buffer, Position, write: false, buffer.Length);

    public override long Write(ReadOnlySpan<byte> buffer) => WriteFrom(buffer, buffer.Length, 0, positional: false);

    public override long Pwrite(ReadOnlySpan<byte> buffer, long offset) => WriteFrom(buffer, buffer.Length, offset, positional: true);

    /// <summary>
    /// The region handlers copy from the caller piece by piece as they go (vfio_pci_core_do_io_rw,
    /// vfio_pci_config_rw_single): the piece that needs a byte the caller's buffer cannot give is EFAULT,
    /// after the pieces before it reached the device.
    /// </summary>
    public override long WriteFrom(ReadOnlySpan<byte> kernel, int readable, long offset, bool positional) =>
        RegionAccess(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(kernel), kernel.Length), positional ? offset : Position, write: true, readable);

    private int GetRegionInfo(byte* arg, ulong user)
    {
        ref vfio_region_info info = ref *(vfio_region_info*)arg;
        const uint MinSize = IoctlMinSizes.VFIO_DEVICE_GET_REGION_INFO;
        uint argsz = info.argsz;
        if (argsz < MinSize)
        {
            return Fail(Errno.EINVAL, $"argsz {argsz} is below {MinSize}");
        }

        uint index = info.index;
        // vfio_get_region_info fills in what the region says and writes the struct back whole: a
        // cap_offset the caller passed stays unless a capability chain sets it.
        var result = new vfio_region_info { argsz = argsz, index = index, offset = (ulong)index << OffsetShift, cap_offset = info.cap_offset };
        bool msixCap = false;
        switch (index)
        {
            case < 6:
                if (Model.Bars[(int)index] is PciBar bar)
                {
                    result.size = bar.Size;
                    result.flags = (uint)(Constants.VFIO_REGION_INFO_FLAG_READ | Constants.VFIO_REGION_INFO_FLAG_WRITE | (bar.IsIo ? 0 : Constants.VFIO_REGION_INFO_FLAG_MMAP));
                    msixCap = Model.MsixTable.Bar == (int)index;
                }

                break;
            case Constants.VFIO_PCI_ROM_REGION_INDEX:
                // vfio_pci_ioctl_get_region_info maps the ROM with memory decoding on for the look: a ROM
                // with a valid image shows the BAR's size, readable; no ROM, or no valid image, size 0 and no flags.
                if (Model.OptionRom is { ImageLength: > 0 } rom)
                {
                    result.size = rom.BarSize;
                    result.flags = (uint)Constants.VFIO_REGION_INFO_FLAG_READ;
                }

                break;
            case Constants.VFIO_PCI_CONFIG_REGION_INDEX:
                result.size = (ulong)Model.ConfigSize;
                result.flags = (uint)(Constants.VFIO_REGION_INFO_FLAG_READ | Constants.VFIO_REGION_INFO_FLAG_WRITE);
                break;
            default:
                return Fail(Errno.EINVAL, index == Constants.VFIO_PCI_VGA_REGION_INDEX ? "the device has no VGA region" : $"region index {index} is past the device's {Constants.VFIO_PCI_NUM_REGIONS} regions");
        }

        if (msixCap)
        {
            // VFIO_REGION_INFO_CAP_MSIX_MAPPABLE (3): a bare header saying the MSI-X table may be mapped.
            const uint CapSize = 8;
            result.flags |= Constants.VFIO_REGION_INFO_FLAG_CAPS;
            if (argsz < MinSize + CapSize)
            {
                result.argsz = MinSize + CapSize;
                result.cap_offset = 0;
            }
            else
            {
                var header = new vfio_info_cap_header { id = (ushort)Constants.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, version = 1, next = 0 };
                if (!UserAccess.TryWrite(user + MinSize, header))
                {
                    return Fail(Errno.EFAULT, "the MSIX_MAPPABLE capability cannot be written");
                }

                result.cap_offset = MinSize;
            }
        }

        info = result;
        return 0;
    }

    private long RegionAccess(Span<byte> buffer, long offset, bool write, int readable)
    {
        if (!Usable)
        {
            return Fail(Errno.EINVAL, $"{Name} is not bound to an iommufd yet");
        }

        if (buffer.IsEmpty)
        {
            return 0;                                   // vfio_pci_core_read/write, before the region
        }

        ulong index = (ulong)offset >> OffsetShift;
        ulong at = (ulong)offset & InRegionMask;
        if (index >= Constants.VFIO_PCI_NUM_REGIONS)
        {
            return Fail(Errno.EINVAL, $"offset 0x{offset:X} selects region {index}, past the last");
        }

        return index switch
        {
            Constants.VFIO_PCI_CONFIG_REGION_INDEX => ConfigAccess(buffer, at, write, readable),
            < 6 => BarAccess((int)index, buffer, at, write, readable),
            Constants.VFIO_PCI_ROM_REGION_INDEX when !write && Model.OptionRomSize != 0 => RomRead(buffer, at),
            _ => Fail(Errno.EINVAL, $"region {index} cannot be read or written on this device"),
        };
    }

    // vfio_pci_bar_rw: an offset at or past the ROM BAR's end is EINVAL; a read that starts inside is
    // cut at the end. Then pci_map_rom looks for a valid image, reading the device: with memory decoding
    // off those reads come back all ones, no signature, and so does a ROM without a valid image: ENOMEM.
    // The image's bytes are read from the ROM, the rest of the BAR reads 0xFF (the excluded range).
    private long RomRead(Span<byte> buffer, ulong at)
    {
        OptionRom rom = Model.OptionRom!;
        if (at >= rom.BarSize)
        {
            return Fail(Errno.EINVAL, $"offset 0x{at:X} is past the {rom.BarSize}-byte option ROM");
        }

        if (!Model.Config.MemoryEnabled || rom.ImageLength == 0)
        {
            return Fail(Errno.ENOMEM, Model.Config.MemoryEnabled
                ? "the option ROM holds no valid image (pci_map_rom)"
                : "memory decoding is off in the command register: the ROM reads as all ones, no valid image (pci_map_rom)");
        }

        int length = (int)Math.Min((ulong)buffer.Length, rom.BarSize - at);
        rom.Read(at, buffer[..length]);
        return length;
    }

    private long ConfigAccess(Span<byte> buffer, ulong at, bool write, int readable)
    {
        ulong configSize = (ulong)Model.ConfigSize;
        if (at >= configSize || (ulong)buffer.Length > configSize - at)
        {
            return Fail(Errno.EFAULT, $"config access at 0x{at:X}+{buffer.Length} is past the {configSize}-byte config space");
        }

        // vfio_pci_config_rw: chunk by chunk through vfio-pci's view of the function (VfioPciConfig).
        // A bind still opening the device has not made it yet (vfio_main.c grants access after the open).
        if (Device.Config is not VfioPciConfig config)
        {
            return Fail(Errno.EINVAL, $"{Name} is still being opened");
        }

        int done = config.Access(buffer, (int)at, write, readable);
        return done < 0 ? Fail((Errno)(-done), $"the caller's buffer faults before config byte 0x{at:X}+{buffer.Length}") : done;
    }

    private long BarAccess(int index, Span<byte> buffer, ulong at, bool write, int readable)
    {
        if (Model.Bars[index] is not PciBar bar)
        {
            return Fail(Errno.EINVAL, $"BAR {index} is not implemented");
        }

        if (at >= bar.Size)
        {
            return Fail(Errno.EINVAL, $"offset 0x{at:X} is past BAR {index} (0x{bar.Size:X} bytes)");
        }

        int length = (int)Math.Min((ulong)buffer.Length, bar.Size - at);
        (int msixBar, ulong msixStart, ulong msixLength) = Model.MsixTable;
        (ulong excludedStart, ulong excludedEnd) = msixBar == index ? (msixStart, msixStart + msixLength) : (0UL, 0UL);
        int done = 0;
        while (done < length)
        {
            // vfio_pci_core_do_io_rw: accesses stop at the MSI-X table, which is the kernel's: reads of it
            // give 0xff, writes to it are dropped.
            ulong position = at + (ulong)done;
            int remaining = length - done;
            int fillable = position < excludedStart ? (int)Math.Min((ulong)remaining, excludedStart - position) : position >= excludedEnd ? remaining : 0;
            if (fillable == 0)
            {
                int skipped = (int)Math.Min((ulong)remaining, excludedEnd - position);
                if (!write)
                {
                    buffer.Slice(done, skipped).Fill(0xFF);
                }

                done += skipped;
                continue;
            }

            // vfio_pci_iordwr*: a write's piece comes from the caller first, then test_mem: each access
            // to a memory BAR needs memory decoding on.
            int size = PieceSize((long)position, fillable, max: 8);
            Span<byte> piece = buffer.Slice(done, size);
            if (write && done + size > readable)
            {
                return Fail(Errno.EFAULT, $"the caller's buffer faults inside the {size}-byte write at BAR {index} offset 0x{position:X}");
            }

            if (!bar.IsIo && !Device.MemoryEnabled)
            {
                return Fail(Errno.EIO, "memory decoding is off in the command register");
            }

            if (write)
            {
                bar.Handler.Write((long)position, size, ReadLittle(piece));
            }
            else
            {
                WriteLittle(piece, bar.Handler.Read((long)position, size));
            }

            done += size;
        }

        return done;
    }

    /// <summary>The largest naturally aligned access (≤ <paramref name="max"/>) at <paramref name="position"/> within <paramref name="remaining"/> bytes.</summary>
    private static int PieceSize(long position, int remaining, int max)
    {
        for (int size = max; size > 1; size >>= 1)
        {
            if (remaining >= size && position % size == 0)
            {
                return size;
            }
        }

        return 1;
    }

    private static ulong ReadLittle(ReadOnlySpan<byte> bytes)
    {
        ulong value = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            value |= (ulong)bytes[i] << (8 * i);
        }

        return value;
    }

    private static void WriteLittle(Span<byte> bytes, ulong value)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(value >> (8 * i));
        }
    }
}
