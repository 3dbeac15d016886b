using System.Globalization;
using Abi.Interop;

namespace Abi.Runtime;

/// <summary>A system call other than ioctl failed. Says which call, on which path, the errno by name and number, and what to do when that is known.</summary>
public sealed class SyscallException : IOException
{
    /// <summary>A call failed for an unknown reason.</summary>
    public SyscallException()
    {
        Call = "syscall";
    }

    /// <summary>A call failed, as <paramref name="message"/> says.</summary>
    public SyscallException(string message)
        : base(message)
    {
        Call = "syscall";
    }

    /// <summary>A call failed because of <paramref name="innerException"/>.</summary>
    public SyscallException(string message, Exception innerException)
        : base(message, innerException)
    {
        Call = "syscall";
    }

    /// <summary><paramref name="call"/> on <paramref name="path"/> failed with <paramref name="errno"/>; <paramref name="hint"/> says what to do.</summary>
    public SyscallException(string call, string? path, Errno errno, string? hint)
        : base(Describe(call, path, errno, hint))
    {
        Call = call;
        Path = path;
        Errno = errno;
        HResult = (int)errno;
    }

    /// <summary>The call: <c>open</c>, <c>mmap</c>...</summary>
    public string Call { get; }

    /// <summary>The file it concerned, if any.</summary>
    public string? Path { get; }

    /// <summary>The error.</summary>
    public Errno Errno { get; }

    private static string Describe(string call, string? path, Errno errno, string? hint) =>
        string.Create(CultureInfo.InvariantCulture, $"{call}{(path is null ? string.Empty : " " + path)} failed: {errno} ({(int)errno}){(hint is null ? string.Empty : "; " + hint)}");
}
