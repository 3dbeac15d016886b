using System.Diagnostics;
using System.Globalization;
using Abi.Engine.Iommufd;

namespace Abi.Benchmarks;

/// <summary>The map+unmap pair in a plain loop, for profilers and for same-process comparisons (see Program.cs).</summary>
internal static class PairLoop
{
    public static void Run(long count)
    {
        var benchmarks = new EngineBenchmarks();
        benchmarks.Setup();
        for (int round = 0; round < 5; round++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Time(benchmarks, count):F1} ns/pair"));
        }

        benchmarks.Cleanup();
    }

    /// <summary>
    /// Two contexts in one process, their rounds alternating so that both see the same host: one used
    /// by this thread only (its locks biased to it, its IOAS's DMA gate never opened), one whose IOAS
    /// another thread has mapped into and a device-side reader has read through (bias revoked, gate
    /// open: the compare-exchanges every multi-threaded or DMA-ing program pays).
    /// </summary>
    public static void Compare(long count)
    {
        var single = new EngineBenchmarks();
        single.Setup();
        var shared = new EngineBenchmarks();
        shared.Setup();
        var other = new Thread(() => shared.MapUnmap4KiBPair());
        other.Start();
        other.Join();
        IoPagetable iopt = shared.Iopt;
        using (iopt.BeginDma())
        {
        }

        var best = new double[2];
        Array.Fill(best, double.MaxValue);
        for (int round = 0; round < 10; round++)
        {
            best[0] = Math.Min(best[0], Time(single, count));
            best[1] = Math.Min(best[1], Time(shared, count));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"one thread, no reader: {best[0]:F1} ns/pair; revoked and open: {best[1]:F1} ns/pair; ratio {best[0] / best[1]:F2} (best of 10 rounds each)"));
        single.Cleanup();
        shared.Cleanup();
    }

    private static double Time(EngineBenchmarks benchmarks, long count)
    {
        long start = Stopwatch.GetTimestamp();
        for (long i = 0; i < count; i++)
        {
            benchmarks.MapUnmap4KiBPair();
        }

        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / count;
    }
}
