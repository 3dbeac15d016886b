using System.Globalization;

namespace Abi.Runtime.Engine;

/// <summary>
/// This process's mappings as <c>/proc/self/maps</c> lists them. The engine reads it only to learn
/// about memory a program allocated without it (discovery, see <see cref="UserMemory"/>), never on a hot path.
/// </summary>
internal static class ProcessMaps
{
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
