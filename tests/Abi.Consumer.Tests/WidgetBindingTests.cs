using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Abi.Interop;
using Abi.Model;
using Widgets;

namespace Abi.Consumer.Tests;

/// <summary>Bindings generated at build time from tests/TestHeaders/include/widget.h through the AbiHeader item.</summary>
public sealed unsafe class WidgetBindingTests
{
    private static readonly AbiModel s_model = AbiModelSerializer.Deserialize(File.ReadAllBytes(
        Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "obj", Configuration, "net10.0", "abi", "widget.abi.json")));

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void Sizes_AreTheHeaders()
    {
        Assert.Equal(40, Unsafe.SizeOf<widget_info>());
        Assert.Equal(8, Unsafe.SizeOf<widget_value>());
        Assert.Equal(13, Unsafe.SizeOf<widget_regs>());
        Assert.Equal(26, Unsafe.SizeOf<FixedArray2<widget_regs>>());                 // the packed stride, as C lays out the array
        Assert.Equal(27, Unsafe.SizeOf<widget_mailbox>());
        Assert.Equal(1, Marshal.OffsetOf<widget_mailbox>(nameof(widget_mailbox.regs)).ToInt32());
        Assert.Equal(7, Marshal.OffsetOf<widget_regs>(nameof(widget_regs.grid)).ToInt32());
        Assert.Equal(8, widget_batch.SizeWithValues(0));
        Assert.Equal(24, widget_batch.SizeWithValues(2));
        Assert.Equal("widget-1.0", Constants.WIDGET_VERSION);
        Assert.Equal(-1L, Constants.WIDGET_NO_SERIAL);
    }

    [Theory]
    [InlineData("mode")]
    [InlineData("revision")]
    [InlineData("sealed")]
    [InlineData("temperature")]
    public void Bitfield_AllOnes_SetsExactlyTheModelsBits(string name)
    {
        // The model's bit positions were checked against gcc; here the generated setter must hit them.
        FieldDecl field = s_model.Records.Single(r => r.Name == "widget_info").Fields.Single(f => f.Name == name);
        byte[] expected = new byte[40];
        for (int bit = field.BitOffset!.Value; bit < field.BitOffset + field.BitWidth; bit++)
        {
            expected[bit / 8] |= (byte)(1 << (bit % 8));
        }

        var info = default(widget_info);
        switch (name)
        {
            case "mode": info.mode = uint.MaxValue; break;
            case "revision": info.revision = uint.MaxValue; break;
            case "sealed": info.@sealed = uint.MaxValue; break;
            default: info.temperature = -1; break;
        }

        Assert.Equal(expected, MemoryMarshal.AsBytes(new ReadOnlySpan<widget_info>(in info)).ToArray());
    }

    [Fact]
    public void Bitfields_RoundTripWithoutDisturbingTheirNeighbours()
    {
        var info = new widget_info { mode = 2, revision = 17, @sealed = 1, temperature = -5 };
        info.revision = 30;
        Assert.Equal((2u, 30u, 1u, -5), (info.mode, info.revision, info.@sealed, info.temperature));
        info.temperature = 127;
        Assert.Equal(127, info.temperature);
        info.mode = 7;
        Assert.Equal(3u, info.mode);
    }

    [Fact]
    public void UnionMembers_Overlap()
    {
        var value = new widget_value { raw = 0x1122_3344_5566_7788 };
        Assert.Equal((ushort)0x7788, value.lo);
        Assert.Equal((ushort)0x5566, value.hi);
        Assert.Equal(0x11223344, value.halves[1]);
        Assert.True(Enum.GetValues<widget_flags>().Length == 3 && typeof(widget_flags).IsDefined(typeof(FlagsAttribute), false));
        Assert.False(typeof(widget_mode).IsDefined(typeof(FlagsAttribute), false));
    }

    [Fact]
    public void EncodedIoctls_UseTheirNumbers()
    {
        var seam = new Recorder();
        var widget = new WidgetIoctls(seam, 5);
        var info = default(widget_info);
        widget.GetInfo(ref info);
        Assert.Equal((0x80287701u, 40u), (seam.Request, info.size));
        uint mode = 2;                                                    // _IOW(.., __u32): a pointer to a __u32
        widget.SetMode(ref mode);
        Assert.Equal(Constants.WIDGET_SET_MODE, seam.Request);
        var regs = new widget_regs { bank = 1, reg = 0x10, value = 0xAA };
        widget.Poke(ref regs);
        Assert.Equal(Constants.WIDGET_POKE, seam.Request);
        Assert.Equal(13, (int)((seam.Request >> 16) & 0x3FFF));         // _IOW with the packed 13-byte struct
        Assert.Equal(0, widget.Reset());
        Assert.Equal(Constants.WIDGET_RESET, seam.Request);
    }

    private sealed class Recorder : IIoctlSeam
    {
        public uint Request { get; private set; }

        public int Ioctl(int fd, uint request, nint argument)
        {
            Request = request;
            return 0;
        }
    }
}
