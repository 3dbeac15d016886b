using System.Runtime.CompilerServices;
using Abi.Interop;

namespace Abi.Benchmarks;

/// <summary>
/// A seam that does nothing, so that a benchmark measures only what surrounds the call. It is not
/// inlined: otherwise the JIT folds the whole call away and both sides measure zero.
/// </summary>
public sealed class NullSeam : IIoctlSeam
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public int Ioctl(int fd, uint request, nint argument) => 0;
}
