using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Abi.Interop;

/// <summary>An ioctl failed. Says which ioctl, on which kind of fd, the errno by name and number, and why when that is known.</summary>
public sealed class IoctlException : Exception
{
    /// <summary>An ioctl failed for an unknown reason.</summary>
    public IoctlException()
        : this("ioctl", "fd", Errno.None, null)
    {
    }

    /// <summary>An ioctl failed, as <paramref name="message"/> says.</summary>
    public IoctlException(string message)
        : base(message)
    {
        Ioctl = "ioctl";
        FdKind = "fd";
    }

    /// <summary>An ioctl failed because of <paramref name="innerException"/>.</summary>
    public IoctlException(string message, Exception innerException)
        : base(message, innerException)
    {
        Ioctl = "ioctl";
        FdKind = "fd";
    }

    /// <summary>The ioctl <paramref name="ioctl"/> on a <paramref name="fdKind"/> fd failed with <paramref name="errno"/>.</summary>
    public IoctlException(string ioctl, string fdKind, Errno errno, string? reason)
        : base(Describe(ioctl, fdKind, errno, reason))
    {
        Ioctl = ioctl;
        FdKind = fdKind;
        Errno = errno;
        Reason = reason;
        HResult = (int)errno;
    }

    /// <summary>The ioctl's C name, e.g. <c>IOMMU_IOAS_MAP</c>.</summary>
    public string Ioctl { get; }

    /// <summary>The kind of fd it was issued on (<c>iommufd</c>, <c>container</c>, <c>group</c>, <c>device</c>).</summary>
    public string FdKind { get; }

    /// <summary>The error.</summary>
    public Errno Errno { get; }

    /// <summary>Why, in a sentence, when the backend could tell; otherwise null.</summary>
    public string? Reason { get; }

    /// <summary>Throws for a failed ioctl; kept out of line so that wrappers stay small.</summary>
    [DoesNotReturn]
    public static void Throw(string ioctl, string fdKind, Errno errno, string? reason = null) =>
        throw new IoctlException(ioctl, fdKind, errno, reason);

    private static string Describe(string ioctl, string fdKind, Errno errno, string? reason) =>
        string.Create(CultureInfo.InvariantCulture, $"{ioctl} on {fdKind} failed: {errno} ({(int)errno}){(reason is null ? string.Empty : ": " + reason)}");
}
