using System.Diagnostics;
using System.Globalization;

namespace Abi.Benchmarks;

/// <summary>The map+unmap pair in a plain loop, for profilers (see Program.cs).</summary>
internal static class PairLoop
{
    /// <summary>
    /// EngineBenchmarks' pair, or with <paramref name="liveAreas"/> above 0 ScalingBenchmarks' pair
    /// between that many areas, or with <paramref name="handlersOnly"/> the pair's handlers called directly.
    /// </summary>
    public static void Run(long count, int liveAreas, bool handlersOnly)
    {
        EngineBenchmarks? engine = null;
        ScalingBenchmarks? scaling = null;
        if (liveAreas > 0)
        {
            scaling = new ScalingBenchmarks { LiveAreas = liveAreas };
            scaling.Setup();
        }
        else
        {
            engine = new EngineBenchmarks();
            engine.Setup();
        }

        var clock = new Stopwatch();
        for (int round = 0; round < 5; round++)
        {
            clock.Restart();
            for (long i = 0; i < count; i++)
            {
                _ = scaling is not null ? (int)scaling.PairBetweenLiveAreas() : handlersOnly ? engine!.MapUnmap4KiBPairHandlersOnly() : (int)engine!.MapUnmap4KiBPair();
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalNanoseconds / count:F1} ns/pair"));
        }

        scaling?.Cleanup();
        engine?.Cleanup();
    }
}
