using System.Globalization;

namespace Abi.Runtime.Engine;

/// <summary>
/// This process's mappings as <c>/proc/self/maps</c> lists them. The engine reads it only to learn
/// about memory a program allocated without it (discovery, see <see cref="UserMemory"/>), never on a hot path.
/// </summary>
internal static class ProcessMaps
{
    /// <summary>
    /// What backs user address <paramref name="address"/>: the file's device (glibc's st_dev
    /// encoding) and inode and the byte offset in it, or null for private anonymous memory (no
    /// inode) and unmapped addresses. Two addresses with the same answer reach the same byte.
    /// </summary>
    public static (ulong Device, ulong Inode, ulong Offset)? Backing(ulong address)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset major:minor inode [path]"
            string[] f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 5)
            {
                continue;
            }

            int dash = f[0].IndexOf('-', StringComparison.Ordinal);
            ulong start = Hex(f[0].AsSpan(0, dash)), end = Hex(f[0].AsSpan(dash + 1));
            if (address < start || address >= end)
            {
                continue;
            }

            ulong inode = ulong.Parse(f[4], CultureInfo.InvariantCulture);
            if (inode == 0)
            {
                return null;
            }

            int colon = f[3].IndexOf(':', StringComparison.Ordinal);
            ulong major = Hex(f[3].AsSpan(0, colon)), minor = Hex(f[3].AsSpan(colon + 1));
            ulong device = ((major & 0xfff) << 8) | (minor & 0xff) | ((major & ~0xfffUL) << 32) | ((minor & ~0xffUL) << 12);
            return (device, inode, Hex(f[2]) + (address - start));
        }

        return null;
    }

    private static ulong Hex(ReadOnlySpan<char> text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    /// <summary>The readable and writable mappings, as (start, last) inclusive ranges, in address order.</summary>
    public static List<(ulong Start, ulong Last)> ReadWritable()
    {
        var result = new List<(ulong, ulong)>();
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset dev inode [path]"
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash < 0 || space < dash || line.Length < space + 3 || line[space + 1] != 'r' || line[space + 2] != 'w')
            {
                continue;
            }

            ulong start = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (end > start)
            {
                result.Add((start, end - 1));
            }
        }

        return result;
    }
}
