using System.Buffers.Binary;
using Abi.Engine.Pci;

namespace Abi.Engine.Tests;

/// <summary>How much of a ROM the kernel takes for images (drivers/pci/rom.c: pci_get_rom_size and its two validity checks).</summary>
public sealed class OptionRomTests
{
    [Fact]
    public void TheMinimalImage_IsOneValidSector()
    {
        byte[] image = OptionRom.MinimalImage(0x1AF4, 0x1041, 0x020000);
        var rom = new OptionRom(0x40000, image);
        Assert.Equal(512, rom.ImageLength);
        Assert.Equal(0x40000UL, rom.BarSize);
    }

    [Fact]
    public void Images_AreWalkedToTheOneMarkedLast()
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 2, last: false);
        Image(contents, 0x400, sectors: 1, last: true);
        Assert.Equal(0x600, new OptionRom(0x1000, contents).ImageLength);
    }

    [Fact]
    public void AnImageNotMarkedLast_FollowedByNoHeader_CountsAlone()
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 2, last: false);
        Assert.Equal(0x400, new OptionRom(0x1000, contents).ImageLength);
    }

    [Fact]
    public void AnImageOfLengthZero_NotLast_LeavesNothing()
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 0, last: false);
        Assert.Equal(0, new OptionRom(0x1000, contents).ImageLength);
    }

    [Fact]
    public void AnImageLongerThanTheBar_IsCutAtTheBar()
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 16, last: true);
        Assert.Equal(0x1000, new OptionRom(0x1000, contents).ImageLength);
    }

    [Theory]
    [InlineData(0x1D, 0x18)]        // the data structure not 4-byte aligned
    [InlineData(0x1C, 0x17)]        // shorter than the 0x18 bytes the kernel reads
    [InlineData(0x1C, 0xFFFF)]      // a length the kernel refuses outright
    [InlineData(0xFF8, 0x18)]       // its fields run past the BAR
    [InlineData(0xFE8, 0x1C)]       // its length runs past the BAR (0x18 there ends on the last byte, and is valid)
    public void ABadDataStructure_LeavesNoImage(int pcir, int length)
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 1, last: true, pcir, length);
        Assert.Equal(0, new OptionRom(0x1000, contents).ImageLength);
    }

    [Fact]
    public void ADataStructureEndingOnTheBarsLastByte_IsValid()
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 1, last: true, pcir: 0xFE8, length: 0x18);
        Assert.Equal(512, new OptionRom(0x1000, contents).ImageLength);
    }

    [Fact]
    public void NoSignature_LeavesNoImage()
    {
        byte[] contents = new byte[0x1000];
        Image(contents, 0, sectors: 1, last: true);
        contents[1] = 0;
        Assert.Equal(0, new OptionRom(0x1000, contents).ImageLength);
    }

    [Fact]
    public void Reads_GiveTheImage_ThenOnes()
    {
        byte[] contents = new byte[0x300];
        Image(contents, 0, sectors: 2, last: true);
        contents[0x2FF] = 0x5A;
        var rom = new OptionRom(0x1000, contents);
        byte[] read = new byte[0x500];
        rom.Read(0x100, read);
        Assert.Equal(contents[0x100..0x300], read[..0x200]);
        Assert.All(read[0x200..0x300], b => Assert.Equal(0xFF, b));      // inside the image, past what the ROM holds: erased
        Assert.All(read[0x300..], b => Assert.Equal(0xFF, b));           // past the image
    }

    [Fact]
    public void BytesPastTheLastImage_ReadAsOnes_WhateverTheRomHolds()
    {
        byte[] contents = new byte[0x800];
        Image(contents, 0, sectors: 1, last: true);
        contents.AsSpan(0x200).Fill(0x5A);                                 // the ROM's own bytes after its image
        var rom = new OptionRom(0x1000, contents);
        Assert.Equal(0x200, rom.ImageLength);
        byte[] read = new byte[0x10];
        rom.Read(0x1F8, read);
        Assert.Equal(contents[0x1F8..0x200], read[..8]);
        Assert.All(read[8..], b => Assert.Equal(0xFF, b));                 // vfio_pci_bar_rw's excluded range, not the ROM
    }

    // An image at `at`: the signature, the data structure at `at + pcir` with `length`, its sector count and last flag.
    private static void Image(byte[] rom, int at, int sectors, bool last, int pcir = 0x1C, int length = 0x18)
    {
        rom[at] = 0x55;
        rom[at + 1] = 0xAA;
        BinaryPrimitives.WriteUInt16LittleEndian(rom.AsSpan(at + 0x18), (ushort)pcir);
        int pds = at + pcir;
        if (pds + 0x18 > rom.Length)
        {
            "PCIR"u8.CopyTo(rom.AsSpan(pds));
            return;
        }

        "PCIR"u8.CopyTo(rom.AsSpan(pds));
        BinaryPrimitives.WriteUInt16LittleEndian(rom.AsSpan(pds + 0x0A), (ushort)length);
        BinaryPrimitives.WriteUInt16LittleEndian(rom.AsSpan(pds + 0x10), (ushort)sectors);
        rom[pds + 0x15] = last ? (byte)0x80 : (byte)0;
    }
}
