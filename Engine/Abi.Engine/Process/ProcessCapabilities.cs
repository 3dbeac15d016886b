using System.Globalization;

namespace Abi.Engine.Process;

/// <summary>The calling process's effective capabilities, from <c>/proc/self/status</c>, for the checks the kernel makes (CAP_SYS_RESOURCE, CAP_IPC_LOCK).</summary>
internal static class ProcessCapabilities
{
    public const int CAP_IPC_LOCK = 14;
    public const int CAP_SYS_RAWIO = 17;
    public const int CAP_SYS_RESOURCE = 24;

    private static readonly Lazy<ulong> s_effective = new(Read);

    public static bool Has(int capability) => (s_effective.Value & (1UL << capability)) != 0;

    private static ulong Read()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("CapEff:", StringComparison.Ordinal))
            {
                return ulong.Parse(line.AsSpan("CapEff:".Length).Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
