using System.Text;
using Abi.Interop;
using Abi.Runtime.Kernel;
using Abi.Runtime.Memory;

namespace Abi.Conformance.Scenarios;

/// <summary>Helpers every scenario uses: opening paths through the seam, errno of a raw return.</summary>
internal static class Scenario
{
    public const int ReadWrite = 2;

    /// <summary>Opens <paramref name="path"/>; returns the fd, or -errno.</summary>
    public static int Open(IKernel kernel, string path) => kernel.Open(Encoding.UTF8.GetBytes(path + "\0"), ReadWrite | 0x80000 /* O_CLOEXEC */, 0);

    public static Errno ErrnoOf(int rc) => rc < 0 ? (Errno)(-rc) : Errno.None;

    public static Errno ErrnoOf(long rc) => rc < 0 ? (Errno)(-rc) : Errno.None;

    /// <summary>
    /// The first 2 MiB boundary inside <paramref name="memory"/>: the kernel aligns automatic IOVAs
    /// to the user address's own alignment, so both sides must map addresses aligned alike.
    /// </summary>
    public static ulong Aligned(DmaBuffer memory) => ((ulong)memory.Address + 0x1F_FFFF) & ~0x1F_FFFFUL;
}
