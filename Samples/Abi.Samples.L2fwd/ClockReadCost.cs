using System.Diagnostics;

namespace Abi.Samples.L2fwd;

/// <summary>
/// What one <see cref="Stopwatch.GetTimestamp"/> costs here, in its ticks. The engine's device models
/// time each doorbell with two clock reads; between the two sampling points lies about one read's
/// cost (the rest of the first, the start of the second), and outside them about one more, which
/// lands on the driver's side of the split. Both are the meter's, not the driver's or the device's:
/// the summary takes one read per doorbell off the driver's. testpmd's --record-core-cycles reads the
/// TSC once per burst, at a fraction of this cost (about 24 ns per vDSO clock_gettime on the host
/// these figures were taken on, against 9.5 ns per rdtsc).
/// </summary>
internal static class ClockReadCost
{
    /// <summary>The median, over 64 rounds, of 1,024 back-to-back reads' spacing: two reads in a row are one read apart.</summary>
    public static double MeasureTicks()
    {
        const int Reads = 1024, Rounds = 64;
        Span<double> perRead = stackalloc double[Rounds];
        for (int round = 0; round < Rounds; round++)
        {
            long first = Stopwatch.GetTimestamp(), last = first;
            for (int i = 0; i < Reads; i++)
            {
                last = Stopwatch.GetTimestamp();
            }

            perRead[round] = (last - first) / (double)Reads;
        }

        perRead.Sort();
        return perRead[Rounds / 2];
    }
}
