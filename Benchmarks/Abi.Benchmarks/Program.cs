using Abi.Benchmarks;
using BenchmarkDotNet.Running;

// `--pair-loop N`: the map+unmap pair of EngineBenchmarks, N times in each of five rounds, in this
// process: for a profiler (perf with DOTNET_PerfMapEnabled=1), which BenchmarkDotNet's child
// processes and short iterations hide. Prints each round's mean; not a benchmark (no baseline).
if (args is ["--pair-loop", string count])
{
    PairLoop.Run(long.Parse(count, System.Globalization.CultureInfo.InvariantCulture));
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
