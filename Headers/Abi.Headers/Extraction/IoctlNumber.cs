using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// Decodes an ioctl request code into its <c>_IOC</c> fields. Most architectures use the generic
/// layout (nr 8 bits, type 8, size 14, dir 2 with write = 1, read = 2); powerpc, mips and sparc use
/// a 13-bit size and a 3-bit dir at bit 29 (none = 1, read = 2, write = 4).
/// </summary>
public readonly record struct IoctlNumber(int Type, int Number, int Size, IoctlDirection Direction)
{
    public static IoctlNumber Decode(uint request, string targetTriple)
    {
        int nr = (int)(request & 0xFF);
        int type = (int)((request >> 8) & 0xFF);
        if (UsesThreeBitDirection(targetTriple))
        {
            uint dir = request >> 29;
            bool read = (dir & 2) != 0, write = (dir & 4) != 0;
            return new IoctlNumber(type, nr, (int)((request >> 16) & 0x1FFF), ToDirection(read, write));
        }
        else
        {
            uint dir = request >> 30;
            bool read = (dir & 2) != 0, write = (dir & 1) != 0;
            return new IoctlNumber(type, nr, (int)((request >> 16) & 0x3FFF), ToDirection(read, write));
        }
    }

    private static bool UsesThreeBitDirection(string triple) =>
        triple.StartsWith("powerpc", StringComparison.Ordinal)
        || triple.StartsWith("ppc", StringComparison.Ordinal)
        || triple.StartsWith("mips", StringComparison.Ordinal)
        || triple.StartsWith("sparc", StringComparison.Ordinal);

    // _IOC_WRITE means user space writes the argument for the kernel to read: an input.
    private static IoctlDirection ToDirection(bool read, bool write) => (read, write) switch
    {
        (true, true) => IoctlDirection.InOut,
        (true, false) => IoctlDirection.Out,
        (false, true) => IoctlDirection.In,
        _ => IoctlDirection.None,
    };
}
