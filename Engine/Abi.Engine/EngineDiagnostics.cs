using System.Runtime.CompilerServices;
using System.Text;
using Abi.Engine.Process;
using Abi.Interop;

namespace Abi.Engine;

/// <summary>Why the engine refused the last call on this thread, so that the API can say it (the kernel cannot).</summary>
internal static class EngineDiagnostics
{
    public static string? LastReason => EngineThread.Current.LastReason;

    /// <summary>Records the reason and returns <c>-errno</c>.</summary>
    public static int Fail(Errno errno, string reason)
    {
        EngineThread.Current.LastReason = reason;
        return -(int)errno;
    }

    /// <summary>
    /// Records an interpolated reason and returns <c>-errno</c>. The compiler prefers this overload
    /// for <c>$"..."</c> arguments: the message is built by out-of-line calls on the failure path only,
    /// so a hot handler's frame holds a four-byte <see cref="Reason"/> where the standard handler
    /// (a pooled array and a span, which the prologue must zero) stood for every message it might give.
    /// </summary>
    public static int Fail(Errno errno, Reason reason)
    {
        EngineThread.Current.LastReason = reason.Finish();
        return -(int)errno;
    }

    public static void Clear() => EngineThread.Current.LastReason = null;

    /// <summary>
    /// The interpolated string handler of <see cref="Fail(Errno, Reason)"/>: appends to this thread's
    /// builder from where it found it, so a reason formatted while another is being built (an argument
    /// that fails itself) takes only its own part.
    /// </summary>
    [InterpolatedStringHandler]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "The compiler calls a handler's Append methods on the instance.")]
    public readonly struct Reason
    {
        private readonly int _start;

        public Reason(int literalLength, int formattedCount) => _start = Start();

        [MethodImpl(MethodImplOptions.NoInlining)]
        public void AppendLiteral(string value) => Builder.Append(value);

        public void AppendFormatted<T>(T value) => Append(value, 0, null);

        public void AppendFormatted<T>(T value, string? format) => Append(value, 0, format);

        public void AppendFormatted<T>(T value, int alignment) => Append(value, alignment, null);

        public void AppendFormatted<T>(T value, int alignment, string? format) => Append(value, alignment, format);

        [MethodImpl(MethodImplOptions.NoInlining)]
        public void AppendFormatted(ReadOnlySpan<char> value) => Builder.Append(value);

        [MethodImpl(MethodImplOptions.NoInlining)]
        public void AppendFormatted(string? value) => Builder.Append(value);

        [MethodImpl(MethodImplOptions.NoInlining)]
        internal string Finish()
        {
            StringBuilder builder = Builder;
            string text = builder.ToString(_start, builder.Length - _start);
            builder.Length = _start;
            return text;
        }

        private static StringBuilder Builder => EngineThread.Current.ReasonBuilder;

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static int Start()
        {
            StringBuilder builder = Builder;
            if (builder.Length > 4096)
            {
                builder.Clear();    // left behind by reasons whose arguments threw before they were finished
            }

            return builder.Length;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Append<T>(T value, int alignment, string? format)
        {
            string text = value is IFormattable formattable ? formattable.ToString(format, null) : value?.ToString() ?? string.Empty;
            StringBuilder builder = Builder;
            if (alignment > 0)
            {
                builder.Append(' ', Math.Max(0, alignment - text.Length));
            }

            builder.Append(text);
            if (alignment < 0)
            {
                builder.Append(' ', Math.Max(0, -alignment - text.Length));
            }
        }
    }
}
