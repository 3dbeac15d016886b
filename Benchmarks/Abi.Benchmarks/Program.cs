using Abi.Benchmarks;
using BenchmarkDotNet.Running;

// `--pair-loop N`: the map+unmap pair of EngineBenchmarks, N times in each of five rounds, in this
// process: for a profiler (perf with DOTNET_PerfMapEnabled=1), which BenchmarkDotNet's child
// processes and short iterations hide. Prints each round's mean; not a benchmark (no baseline).
// `--pair-loop N AREAS`: the same with ScalingBenchmarks' pair between AREAS live areas.
// `--pair-loop N handlers`: the pair's two handlers called directly (EngineBenchmarks.MapUnmap4KiBPairHandlersOnly).
if (args is ["--pair-loop", _] or ["--pair-loop", _, _])
{
    bool handlersOnly = args is [_, _, "handlers"];
    int areas = args.Length == 3 && !handlersOnly ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 0;
    PairLoop.Run(long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), areas, handlersOnly);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
