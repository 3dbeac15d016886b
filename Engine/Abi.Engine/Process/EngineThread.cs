using System.Text;

namespace Abi.Engine.Process;

/// <summary>
/// A calling thread as the engine sees it: the id its locks record as owner, its stack's bounds
/// (arguments there are copied directly, see <see cref="UserAccess.StackRoom(EngineThread, ulong)"/>)
/// and why its last call failed (<see cref="EngineDiagnostics"/>).
/// <para>
/// One thread-static reference, so that a call reaches all of it through one thread-local lookup.
/// A thread static costs a call to <c>__tls_get_addr</c> here (the runtime is a shared library), and
/// <see cref="Environment.CurrentManagedThreadId"/> a call into the runtime besides: the map+unmap
/// pair made eight such lookups before, two now.
/// </para>
/// </summary>
internal sealed class EngineThread
{
    [ThreadStatic]
    private static EngineThread? s_current;

    private EngineThread()
    {
        Id = Environment.CurrentManagedThreadId;
        (StackLow, StackHigh) = UserAccess.LearnStack();
    }

    /// <summary>The calling thread's.</summary>
    public static EngineThread Current => s_current ?? Attach();

    /// <summary>The managed thread id (what <see cref="Environment.CurrentManagedThreadId"/> gives): never 0.</summary>
    public int Id { get; }

    /// <summary>The lowest address of the thread's stack (1 with <see cref="StackHigh"/> when unknown: an empty range).</summary>
    public ulong StackLow { get; }

    /// <summary>One past the highest address of the thread's stack.</summary>
    public ulong StackHigh { get; }

    /// <summary>Why the thread's last call failed, if it did and said.</summary>
    public string? LastReason { get; set; }

    /// <summary>Where interpolated reasons are built (<see cref="EngineDiagnostics.Reason"/>).</summary>
    public StringBuilder ReasonBuilder => field ??= new StringBuilder(128);

    private static EngineThread Attach() => s_current = new EngineThread();
}
