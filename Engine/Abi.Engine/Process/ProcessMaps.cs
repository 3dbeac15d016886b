using System.Globalization;

namespace Abi.Engine.Process;

/// <summary>
/// This process's mappings, read once from <c>/proc/self/maps</c>. The engine reads it only to learn
/// about memory a program allocated without it (discovery, see <see cref="UserMemory"/>) and for
/// IOMMU_TEST_CMD's checks, never on a hot path.
/// </summary>
internal sealed class ProcessMaps
{
    private readonly List<Mapping> _mappings;

    private ProcessMaps(List<Mapping> mappings) => _mappings = mappings;

    /// <summary>One line: [Start, Last] inclusive, read-write or not, and what backs it (inode 0: anonymous, private).</summary>
    public readonly record struct Mapping(ulong Start, ulong Last, bool ReadWrite, ulong FileOffset, ulong Device, ulong Inode, bool Readable = true);

    /// <summary>The mappings as they are now, in address order.</summary>
    public static ProcessMaps Read()
    {
        var mappings = new List<Mapping>();
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset major:minor inode [path]"
            string[] f = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            int dash = f.Length >= 5 ? f[0].IndexOf('-', StringComparison.Ordinal) : -1;
            int colon = dash > 0 ? f[3].IndexOf(':', StringComparison.Ordinal) : -1;
            if (colon < 0)
            {
                continue;
            }

            ulong start = Hex(f[0].AsSpan(0, dash)), end = Hex(f[0].AsSpan(dash + 1));
            ulong major = Hex(f[3].AsSpan(0, colon)), minor = Hex(f[3].AsSpan(colon + 1));
            if (end > start)
            {
                // st_dev as glibc encodes it (gnu_dev_makedev), so it compares with fstat's.
                ulong device = ((major & 0xfff) << 8) | (minor & 0xff) | ((major & ~0xfffUL) << 32) | ((minor & ~0xffUL) << 12);
                mappings.Add(new Mapping(start, end - 1, f[1].StartsWith("rw", StringComparison.Ordinal), Hex(f[2]), device, ulong.Parse(f[4], CultureInfo.InvariantCulture), f[1].StartsWith('r')));
            }
        }

        return new ProcessMaps(mappings);
    }

    /// <summary>Every mapping, in address order.</summary>
    public IReadOnlyList<Mapping> All => _mappings;

    /// <summary>The readable and writable mappings.</summary>
    public IEnumerable<Mapping> ReadWritable => _mappings.Where(m => m.ReadWrite);

    /// <summary>Mappings that can be read but not written (PROT_READ): pinnable for a read-only mapping.</summary>
    public IEnumerable<Mapping> ReadOnly => _mappings.Where(m => m.Readable && !m.ReadWrite);

    /// <summary>
    /// What backs user address <paramref name="address"/>: (device, inode, byte offset in the file),
    /// or null for private anonymous memory and unmapped addresses. Two addresses with the same
    /// answer reach the same byte.
    /// </summary>
    public (ulong Device, ulong Inode, ulong Offset)? Backing(ulong address)
    {
        foreach (Mapping m in _mappings)
        {
            if (address >= m.Start && address <= m.Last)
            {
                return m.Inode == 0 ? null : (m.Device, m.Inode, m.FileOffset + (address - m.Start));
            }
        }

        return null;
    }

    private static ulong Hex(ReadOnlySpan<char> text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
