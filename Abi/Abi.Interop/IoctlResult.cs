namespace Abi.Interop;

/// <summary>Conversions of a seam result (value or <c>-errno</c>).</summary>
public static class IoctlResult
{
    /// <summary><see cref="Errno.None"/> for a non-negative result, else the errno.</summary>
    public static Errno ToErrno(int result) => result >= 0 ? Errno.None : (Errno)(-result);
}
