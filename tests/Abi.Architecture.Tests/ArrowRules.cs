namespace Abi.Architecture.Tests;

/// <summary>
/// The arrows that must not exist, directly or through other projects. The parts, from the bottom:
/// the ABI model and bindings (<c>Abi/</c>), the header reader and the generator, the runtime (the
/// seam, the real-kernel backend, the driver API), the engine (an in-process kernel behind the
/// seam), the engine's selftest mock, and what composes them (samples, the interposer, the
/// conformance runner). Drivers (the virtio-net and edu libraries) know only the runtime.
/// </summary>
internal static class ArrowRules
{
    private const string Engine = "Engine/Abi.Engine/", Selftest = "Engine/Abi.Engine.Selftest/";

    private static readonly (string From, string[] Never)[] s_rules =
    [
        ("Abi/", ["Headers/", "Runtime/", "Engine/", "Samples/", "Interposer/", "Conformance/", "Benchmarks/"]),
        ("Headers/", ["Runtime/", "Engine/", "Samples/", "Interposer/", "Conformance/", "Benchmarks/"]),
        ("Generators/", ["Runtime/", "Engine/", "Samples/", "Interposer/", "Conformance/", "Benchmarks/"]),
        ("Runtime/", ["Engine/", "Samples/", "Interposer/", "Conformance/", "Benchmarks/"]),
        (Engine, [Selftest, "Samples/", "Interposer/", "Conformance/", "Benchmarks/"]),
        (Selftest, ["Samples/", "Interposer/", "Conformance/", "Benchmarks/"]),
        ("Samples/", [Selftest, "Interposer/", "Conformance/", "Benchmarks/"]),
        ("Samples/Abi.Samples.VirtioNet/", ["Engine/"]),
        ("Samples/Abi.Samples.Edu/", ["Engine/"]),
    ];

    /// <summary>Every forbidden arrow in <paramref name="graph"/>, as "from -> to (rule)".</summary>
    public static List<string> Violations(ProjectGraph graph)
    {
        var found = new List<string>();
        foreach (string project in graph.Projects.Order(StringComparer.Ordinal))
        {
            IReadOnlySet<string> reach = graph.Reach(project);
            foreach ((string from, string[] never) in s_rules)
            {
                if (!project.StartsWith(from, StringComparison.Ordinal))
                {
                    continue;
                }

                foreach (string target in reach.Order(StringComparer.Ordinal))
                {
                    if (never.FirstOrDefault(n => target.StartsWith(n, StringComparison.Ordinal)) is string rule)
                    {
                        found.Add($"{project} -> {target} ({from} never reaches {rule})");
                    }
                }
            }
        }

        return found;
    }
}
