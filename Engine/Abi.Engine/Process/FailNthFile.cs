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

    public override long Write(ReadOnlySpan<byte> buffer) => Pwrite(buffer, 0);

    public override long Pwrite(ReadOnlySpan<byte> buffer, long offset)
    {
        if (!uint.TryParse(Encoding.ASCII.GetString(buffer).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out uint nth) || nth > int.MaxValue)
        {
            return EngineDiagnostics.Fail(Errno.EINVAL, "fail-nth takes a decimal count");
        }

        faults.FailNth = (int)nth;
        faults.Reset();
        return buffer.Length;
    }
}
