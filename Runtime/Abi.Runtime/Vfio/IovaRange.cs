namespace Abi.Runtime.Vfio;

/// <summary>An IOVA range with an inclusive end, as the kernel states ranges (<c>last</c> may be 2^64-1).</summary>
public readonly record struct IovaRange(ulong Start, ulong Last)
{
    /// <summary>The number of bytes, or null when the range spans all 2^64 addresses.</summary>
    public ulong? Length => Start == 0 && Last == ulong.MaxValue ? null : Last - Start + 1;
}
