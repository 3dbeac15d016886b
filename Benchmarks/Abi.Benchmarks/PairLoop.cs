using System.Diagnostics;
using System.Globalization;

namespace Abi.Benchmarks;

/// <summary>The map+unmap pair in a plain loop, for profilers (see Program.cs).</summary>
internal static class PairLoop
{
    /// <summary>EngineBenchmarks' pair, or with <paramref name="liveAreas"/> above 0 ScalingBenchmarks' pair between that many areas.</summary>
    public static void Run(long count, int liveAreas)
    {
        var engine = new EngineBenchmarks();
        var scaling = new ScalingBenchmarks { LiveAreas = liveAreas };
        if (liveAreas > 0)
        {
            scaling.Setup();
        }
        else
        {
            engine.Setup();
        }

        var clock = new Stopwatch();
        for (int round = 0; round < 5; round++)
        {
            clock.Restart();
            for (long i = 0; i < count; i++)
            {
                _ = liveAreas > 0 ? scaling.PairBetweenLiveAreas() : engine.MapUnmap4KiBPair();
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalNanoseconds / count:F1} ns/pair"));
        }

        if (liveAreas > 0)
        {
            scaling.Cleanup();
        }
        else
        {
            engine.Cleanup();
        }
    }
}
