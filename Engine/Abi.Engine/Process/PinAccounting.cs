using System.Globalization;
using Abi.Runtime.Kernel;

namespace Abi.Engine.Process;

/// <summary>How a pages object's pins are charged (pages.c: iommufd_account_mode), decided when the mapping is made.</summary>
internal enum AccountingMode
{
    /// <summary>The mapper had CAP_IPC_LOCK: no limit, only VmPin counts.</summary>
    None,

    /// <summary>iommufd's default: the per-user locked-page counter (as io_uring), against RLIMIT_MEMLOCK.</summary>
    User,

    /// <summary>VFIO type1, and iommufd's mode for /dev/vfio/vfio: the process's VmLck, against RLIMIT_MEMLOCK.</summary>
    Mm,
}

/// <summary>
/// The engine's pinned-memory accounting for this process: the three counters the kernel keeps
/// (the user's locked pages, the mm's locked pages = VmLck, the mm's pinned pages = VmPin) and the
/// limit they are checked against. Charges come from pages pinned for a domain, by an access, or
/// by a type1 mapping; an operation that would pass the limit fails with ENOMEM before it changes
/// anything.
/// </summary>
public sealed class PinAccounting
{
    private readonly Lock _lock = new();
    private long _userLocked, _mmLocked, _mmPinned;

    internal PinAccounting()
    {
        LimitPages = ReadMemlockLimitPages();
        HasIpcLock = ProcessCapabilities.Has(ProcessCapabilities.CAP_IPC_LOCK);
    }

    /// <summary>RLIMIT_MEMLOCK in pages (long.MaxValue: unlimited). Starts as this process's real limit; tests lower it.</summary>
    public long LimitPages { get; set; }

    /// <summary>Whether mappings are made with CAP_IPC_LOCK (no limit). Starts as this process's real capability; tests drop it.</summary>
    public bool HasIpcLock { get; set; }

    /// <summary>Pages charged to the user's locked-page counter ("user" mode).</summary>
    public long UserLockedPages => Volatile.Read(ref _userLocked);

    /// <summary>Pages charged to the process's VmLck ("mm" mode and type1).</summary>
    public long MmLockedPages => Volatile.Read(ref _mmLocked);

    /// <summary>Pages pinned by the engine for this process (VmPin), whatever the mode.</summary>
    public long MmPinnedPages => Volatile.Read(ref _mmPinned);

    /// <summary>The mode a new mapping gets in a context whose RLIMIT_MODE is <paramref name="contextMm"/>.</summary>
    internal AccountingMode ModeFor(bool contextMm) => HasIpcLock ? AccountingMode.None : contextMm ? AccountingMode.Mm : AccountingMode.User;

    /// <summary>Whether charging <paramref name="userPages"/> more to the user counter and <paramref name="mmPages"/> more to VmLck stays within the limit.</summary>
    internal bool Fits(long userPages, long mmPages)
    {
        lock (_lock)
        {
            return (userPages == 0 || _userLocked + userPages <= LimitPages) && (mmPages == 0 || _mmLocked + mmPages <= LimitPages);
        }
    }

    internal void Charge(AccountingMode mode, long pages)
    {
        lock (_lock)
        {
            _mmPinned += pages;
            switch (mode)
            {
                case AccountingMode.User:
                    _userLocked += pages;
                    break;
                case AccountingMode.Mm:
                    _mmLocked += pages;
                    break;
            }
        }
    }

    internal void Uncharge(AccountingMode mode, long pages) => Charge(mode, -pages);

    private static long ReadMemlockLimitPages()
    {
        // "Max locked memory  <soft>  <hard>  bytes": the soft limit is what the kernel checks.
        foreach (string line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max locked memory", StringComparison.Ordinal))
            {
                string[] fields = line["Max locked memory".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long bytes)
                    ? bytes / LinuxConstants.PageSize
                    : long.MaxValue;
            }
        }

        return long.MaxValue;
    }
}
