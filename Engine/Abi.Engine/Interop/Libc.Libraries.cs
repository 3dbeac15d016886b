
namespace Abi.Engine.Native;

/// <summary>
/// Native calls into libc, one per file, as dotnet/runtime's Interop.Sys does. Each sets errno
/// (<c>SetLastError</c>), returns the raw result and never throws; <see cref="Abi.Runtime.Kernel.LinuxKernel"/>
/// turns results into <c>-errno</c>.
/// </summary>
internal static partial class Libc
{
    internal const string Library = "libc";
}
