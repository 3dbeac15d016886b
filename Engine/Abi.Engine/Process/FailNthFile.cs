using System.Globalization;
using System.Text;
using Abi.Interop;

namespace Abi.Engine.Process;

/// <summary>
/// A task's <c>fail-nth</c> file (<c>/proc/self/task/&lt;tid&gt;/fail-nth</c>) over the engine's
/// failure points: writing n makes the n-th point reached fail (0 turns it off); reading gives
/// what the kernel's counter would hold, the points still to go before the failure, or 0 once it
/// was injected (or when off). The engine has one counter, not one per thread.
/// </summary>
internal sealed class FailNthFile(FaultInjection faults) : EngineFile
{
    public override string Name => "fail-nth";

    /// <summary>A procfs file of mode 0644 and no size.</summary>
    public static InodeAttributes Inode => InodeAttributes.Regular(0x1A4, 0);

    public override InodeAttributes Attributes => Inode;

    // proc_fill_super: procfs is SB_I_NOEXEC.
    public override bool NoExec => true;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => true;

    /// <summary>Paths the file answers to.</summary>
    public static bool Matches(string path) =>
        path.StartsWith("/proc/", StringComparison.Ordinal) && path.EndsWith("/fail-nth", StringComparison.Ordinal);

    // proc_fail_nth_read answers through simple_read_from_buffer, which moves the position; its write
    // ignores the position.
    protected override bool MovesPosition(bool write) => !write;

    public override long Read(Span<byte> buffer) => Pread(buffer, Position);

    public override long Pread(Span<byte> buffer, long offset)
    {
        int remaining = faults.FailNth == 0 ? 0 : Math.Max(faults.FailNth - faults.Reached, 0);
        byte[] text = Encoding.ASCII.GetBytes(remaining.ToString(CultureInfo.InvariantCulture) + "\n");
        if (offset >= text.Length)
        {
            return 0;
        }

        int n = Math.Min(buffer.Length, text.Length - (int)offset);
        text.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    public override long Write(ReadOnlySpan<byte> buffer) => WriteFrom(buffer, buffer.Length, 0, positional: false);

    public override long Pwrite(ReadOnlySpan<byte> buffer, long offset) => WriteFrom(buffer, buffer.Length, offset, positional: true);

    // kstrtouint_from_user's buffer: a sign, 32 binary digits, a newline and the NUL.
    private const int NumberRoom = 1 + 32 + 1 + 1;

    /// <summary>
    /// proc_fail_nth_write: kstrtouint_from_user copies at most what a number can take (EFAULT unless all
    /// of that could be read) and parses it; the write answers the whole count, wherever the position is.
    /// </summary>
    public override long WriteFrom(ReadOnlySpan<byte> kernel, int readable, long offset, bool positional)
    {
        if (!TryCopyString(kernel, readable, NumberRoom - 1, out ReadOnlySpan<byte> text))
        {
            return EngineDiagnostics.Fail(Errno.EFAULT, "the count written to fail-nth cannot be read");
        }

        int rc = ParseUInt(text, out uint nth);
        if (rc != 0)
        {
            return EngineDiagnostics.Fail((Errno)(-rc), "fail-nth takes an unsigned int (kstrtouint, base 0)");
        }

        // The engine counts in an int: a count past its range is one no run reaches either way.
        faults.FailNth = (int)Math.Min(nth, int.MaxValue);
        faults.Reset();
        return kernel.Length;
    }

    /// <summary>
    /// kstrtouint with base 0 (lib/kstrtox.c): an optional '+', then "0x" and a hex digit for hex, a
    /// leading 0 for octal, decimal otherwise; digits, at most one newline, nothing after. ERANGE past
    /// the type, EINVAL for anything else that does not parse.
    /// </summary>
    private static int ParseUInt(ReadOnlySpan<byte> s, out uint value)
    {
        value = 0;
        if (!s.IsEmpty && s[0] == '+')
        {
            s = s[1..];
        }

        uint radix = 10;
        if (!s.IsEmpty && s[0] == '0')
        {
            radix = 8;
            if (s.Length > 2 && (s[1] | 0x20) == 'x' && Digit(s[2]) < 16)
            {
                radix = 16;
                s = s[2..];
            }
        }

        int used = 0;
        bool overflow = false;
        ulong result = 0;
        for (; used < s.Length && Digit(s[used]) < radix; used++)
        {
            UInt128 next = (UInt128)result * radix + Digit(s[used]);
            overflow |= next > ulong.MaxValue;
            result = (ulong)next;
        }

        if (overflow)
        {
            return -(int)Errno.ERANGE;
        }

        if (used == 0)
        {
            return -(int)Errno.EINVAL;
        }

        s = s[used..];
        if (!s.IsEmpty && s[0] == '\n')
        {
            s = s[1..];
        }

        if (!s.IsEmpty)
        {
            return -(int)Errno.EINVAL;
        }

        if (result > uint.MaxValue)
        {
            return -(int)Errno.ERANGE;
        }

        value = (uint)result;
        return 0;
    }

    // _parse_integer's digit value: 0-9, a-f either case, 16 for anything else.
    private static uint Digit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => (uint)(c - '0'),
        _ when (c | 0x20) is >= 'a' and <= 'f' => (uint)((c | 0x20) - 'a' + 10),
        _ => 16,
    };
}
