using Abi.Interop;

namespace Abi.Engine;

/// <summary>Why the engine refused the last call on this thread, so that the API can say it (the kernel cannot).</summary>
internal static class EngineDiagnostics
{
    [ThreadStatic]
    private static string? s_lastReason;

    public static string? LastReason => s_lastReason;

    /// <summary>Records the reason and returns <c>-errno</c>. Strings are built only on failure paths.</summary>
    public static int Fail(Errno errno, string reason)
    {
        s_lastReason = reason;
        return -(int)errno;
    }

    public static void Clear() => s_lastReason = null;
}
