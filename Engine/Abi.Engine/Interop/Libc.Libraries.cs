namespace Abi.Engine.Native;

/// <summary>
/// The engine's own libc calls (what only an emulated kernel needs: reading another mapping's memory,
/// fstat identities, memfds, dup), one per file as the runtime's are. Each sets errno
/// (<c>SetLastError</c>), returns the raw result and never throws; the caller turns a failure into
/// <c>-errno</c>. Everything a driver also needs goes through the runtime's <c>LinuxKernel</c>.
/// </summary>
internal static partial class Libc
{
    internal const string Library = "libc";
}
