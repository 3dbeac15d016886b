using System.Globalization;

namespace Abi.Runtime.Memory;

/// <summary>What the system offers in 2 MiB huge pages, read from <c>/proc/meminfo</c>.</summary>
public static class HugePages
{
    /// <summary>Free 2 MiB huge pages now (0 when the system has none reserved or the size differs).</summary>
    public static long Free2MiBPages()
    {
        try
        {
            long free = 0, sizeKiB = 0;
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("HugePages_Free:", StringComparison.Ordinal))
                {
                    free = long.Parse(line.AsSpan("HugePages_Free:".Length).Trim(), CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("Hugepagesize:", StringComparison.Ordinal))
                {
                    sizeKiB = long.Parse(line.AsSpan("Hugepagesize:".Length).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                }
            }

            return sizeKiB == 2048 ? free : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
