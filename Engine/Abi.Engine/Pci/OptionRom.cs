using System.Buffers.Binary;

namespace Abi.Engine.Pci;

/// <summary>
/// A function's expansion ROM: the bytes behind its ROM BAR, and how much of them the kernel takes
/// for images (drivers/pci/rom.c, pci_get_rom_size). VFIO reads the ROM up to that length and fills
/// the rest of the BAR with 0xFF (vfio_pci_bar_rw's excluded range); a ROM in which the kernel finds
/// no valid first image cannot be read at all (pci_map_rom fails: ENOMEM) and shows VFIO a ROM region
/// of size 0.
/// </summary>
public sealed class OptionRom
{
    // The expansion ROM header and the PCI data structure (PCI Firmware Specification r3.3, 5.1).
    private const int SectorSize = 512;
    private const int HeaderSize = 0x1A;
    private const int PointerToDataStructure = 0x18;
    private const ushort ImageSignature = 0xAA55;
    private const uint DataStructureSignature = 0x52494350;       // "PCIR"
    private const int DataStructureLengthField = 0x0A, ImageLengthField = 0x10, LastImageField = 0x15;
    private const int DataStructureMinLength = 0x18;
    private const int DataStructureRevision3Length = 0x1C;          // with the configuration utility and DMTF CLP pointers
    private const int MinimumBarSize = 2048;                        // a ROM BAR decodes at least 2 KiB (its bits 1-10 are fixed)
    private const byte LastImageBit = 0x80;
    private const byte CodeTypeEfi = 3;

    private readonly byte[] _contents;

    /// <summary>A ROM BAR of <paramref name="barSize"/> bytes holding <paramref name="contents"/> from its start; bytes past them read as 0xFF (erased).</summary>
    public OptionRom(ulong barSize, ReadOnlySpan<byte> contents)
    {
        if (barSize < MinimumBarSize || !ulong.IsPow2(barSize) || barSize > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(barSize), "a ROM BAR is a power of two of at least 2 KiB");
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan((ulong)contents.Length, barSize, nameof(contents));
        BarSize = barSize;
        _contents = new byte[barSize];
        _contents.AsSpan().Fill(0xFF);
        contents.CopyTo(_contents);
        ImageLength = MeasureImages(_contents);
    }

    /// <summary>The ROM BAR's size: what VFIO reports for the region when the ROM is valid, and where reads end.</summary>
    public ulong BarSize { get; }

    /// <summary>The bytes the kernel reads from the device: the images' total length (0: no valid image).</summary>
    public int ImageLength { get; }

    /// <summary>
    /// One image with nothing in it but what the kernel checks: the 55 AA signature, a revision 3 data
    /// structure with the function's ids and class, one 512-byte sector long, code type EFI, the last
    /// image. The engine's devices carry no firmware: the EFI image header's fields (its 0EF1 signature,
    /// subsystem, machine type, image offset) are left out, so firmware finds nothing to load; a real
    /// device's ROM holds its boot code here.
    /// </summary>
    public static byte[] MinimalImage(ushort vendorId, ushort deviceId, uint classCode)
    {
        byte[] image = new byte[SectorSize];
        BinaryPrimitives.WriteUInt16LittleEndian(image, ImageSignature);
        image[2] = 1;                                                  // the initialization size, in sectors
        const int Pcir = 0x1C;
        BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(PointerToDataStructure), Pcir);
        Span<byte> pcir = image.AsSpan(Pcir, DataStructureRevision3Length);
        BinaryPrimitives.WriteUInt32LittleEndian(pcir, DataStructureSignature);
        BinaryPrimitives.WriteUInt16LittleEndian(pcir[4..], vendorId);
        BinaryPrimitives.WriteUInt16LittleEndian(pcir[6..], deviceId);
        BinaryPrimitives.WriteUInt16LittleEndian(pcir[DataStructureLengthField..], DataStructureRevision3Length);
        pcir[0x0C] = 3;                                                // data structure revision
        pcir[0x0D] = (byte)classCode;                                  // programming interface, subclass, class
        pcir[0x0E] = (byte)(classCode >> 8);
        pcir[0x0F] = (byte)(classCode >> 16);
        BinaryPrimitives.WriteUInt16LittleEndian(pcir[ImageLengthField..], 1);
        pcir[0x14] = CodeTypeEfi;
        pcir[LastImageField] = LastImageBit;
        return image;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> from byte <paramref name="at"/> of the BAR as VFIO reads it:
    /// the ROM's bytes below <see cref="ImageLength"/>, 0xFF from there. The caller keeps within the BAR.
    /// </summary>
    public void Read(ulong at, Span<byte> destination)
    {
        int image = at < (ulong)ImageLength ? Math.Min(destination.Length, ImageLength - (int)at) : 0;
        _contents.AsSpan((int)at, image).CopyTo(destination);
        destination[image..].Fill(0xFF);
    }

    /// <summary>
    /// pci_get_rom_size: walks the images from the start while each has a valid header and data
    /// structure, up to the one marked last; the length taken, never more than the BAR.
    /// </summary>
    private static int MeasureImages(ReadOnlySpan<byte> rom)
    {
        long image = 0;
        int length;
        bool last;
        do
        {
            if (!HeaderValid(rom, image))
            {
                break;
            }

            long pds = image + BinaryPrimitives.ReadUInt16LittleEndian(rom[(int)(image + PointerToDataStructure)..]);
            if (!DataStructureValid(rom, pds))
            {
                break;
            }

            last = (rom[(int)pds + LastImageField] & LastImageBit) != 0;
            length = BinaryPrimitives.ReadUInt16LittleEndian(rom[((int)pds + ImageLengthField)..]);
            image += (long)length * SectorSize;
            if (!last && !HeaderValid(rom, image))
            {
                break;
            }
        }
        while (length != 0 && !last);

        return (int)Math.Min(image, rom.Length);
    }

    // pci_rom_header_valid: sector aligned, the whole header inside the ROM, the 55 AA signature.
    private static bool HeaderValid(ReadOnlySpan<byte> rom, long image) =>
        image % SectorSize == 0 && image + HeaderSize <= rom.Length
        && BinaryPrimitives.ReadUInt16LittleEndian(rom[(int)image..]) == ImageSignature;

    // pci_rom_data_struct_valid: 4-byte aligned, inside the ROM up to the length field's last byte (pds + 0x0B),
    // the PCIR signature, a length of at least 0x18 (and not 0xFFFF) that stays inside the ROM.
    private static bool DataStructureValid(ReadOnlySpan<byte> rom, long pds)
    {
        if (pds % 4 != 0 || pds + DataStructureLengthField + 1 > rom.Length - 1
            || BinaryPrimitives.ReadUInt32LittleEndian(rom[(int)pds..]) != DataStructureSignature)
        {
            return false;
        }

        int length = BinaryPrimitives.ReadUInt16LittleEndian(rom[((int)pds + DataStructureLengthField)..]);
        return length is >= DataStructureMinLength and not ushort.MaxValue && pds + length - 1 <= rom.Length - 1;
    }
}
