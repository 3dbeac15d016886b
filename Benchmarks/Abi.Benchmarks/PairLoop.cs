using System.Diagnostics;
using System.Globalization;

namespace Abi.Benchmarks;

/// <summary>The map+unmap pair in a plain loop, for profilers (see Program.cs).</summary>
internal static class PairLoop
{
    public static void Run(long count)
    {
        var benchmarks = new EngineBenchmarks();
        benchmarks.Setup();
        var clock = new Stopwatch();
        for (int round = 0; round < 5; round++)
        {
            clock.Restart();
            for (long i = 0; i < count; i++)
            {
                benchmarks.MapUnmap4KiBPair();
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalNanoseconds / count:F1} ns/pair"));
        }

        benchmarks.Cleanup();
    }
}
