namespace Abi.Samples.VirtioNet;

/// <summary>A packet: which pool buffer holds it and how many bytes of frame it has (no FCS).</summary>
/// <param name="Index">The buffer's index in its <see cref="MbufPool"/>.</param>
/// <param name="Length">Frame length in bytes.</param>
public record struct Mbuf(int Index, int Length);
