using System.Globalization;

namespace Abi.Runtime.Memory;

/// <summary>What the system offers in 2 MiB huge pages.</summary>
public static class HugePages
{
    // The 2 MiB pool by name: /proc/meminfo's HugePages_Free counts only the default size, which may be 1 GiB.
    private const string FreePages = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages";

    /// <summary>Free 2 MiB huge pages now (0 when the system has no such pool or none reserved).</summary>
    public static long Free2MiBPages()
    {
        try
        {
            return File.Exists(FreePages) ? long.Parse(File.ReadAllText(FreePages).Trim(), CultureInfo.InvariantCulture) : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
