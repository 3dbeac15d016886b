using Abi.Benchmarks;
using BenchmarkDotNet.Running;

// `--pair-loop N`: the map+unmap pair of EngineBenchmarks, N times in each of five rounds, in this
// process: for a profiler (perf with DOTNET_PerfMapEnabled=1), which BenchmarkDotNet's child
// processes and short iterations hide. Prints each round's mean; not a benchmark (no baseline).
// `--pair-loop N AREAS`: the same with ScalingBenchmarks' pair between AREAS live areas.
if (args is ["--pair-loop", string count, ..])
{
    PairLoop.Run(long.Parse(count, System.Globalization.CultureInfo.InvariantCulture), args is [_, _, string areas] ? int.Parse(areas, System.Globalization.CultureInfo.InvariantCulture) : 0);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
