using System.Text;
using System.Text.Json;

namespace Abi.Conformance;

/// <summary>
/// Compares two result files step by step: the errno and every recorded output. Steps are matched
/// by scenario and step name; a step only one side ran is a difference too. Known divergences
/// (documented, with their reason) are reported as such and do not count as failures.
/// </summary>
public static class Comparison
{
    /// <summary>Differences that are understood: (scenario, step, field) → why the engine differs.</summary>
    public static readonly IReadOnlyDictionary<(string Scenario, string Step, string Field), string> KnownDivergences =
        new Dictionary<(string, string, string), string>
        {
            [("cdev-edu", "GET_HW_INFO (no data buffer)", "out_capabilities")] =
                "the engine's VT-d unit has second-stage dirty bits (IOMMU_HW_CAP_DIRTY_TRACKING, for the dirty-tracking ioctls); QEMU 7.2's intel-iommu does not",
        };

    public static int Run(string kernelFile, string engineFile, string reportFile)
    {
        var kernel = Load(kernelFile);
        var engine = Load(engineFile);
        var report = new StringBuilder();
        int identical = 0, differing = 0, known = 0;
        var scenarios = new HashSet<string>();
        foreach (((string scenario, string step) key, Dictionary<string, string> real) in kernel)
        {
            scenarios.Add(key.scenario);
            if (!engine.TryGetValue(key, out Dictionary<string, string>? emulated))
            {
                differing++;
                report.AppendLine($"DIFF  {key.scenario} / {key.step}: the engine did not run this step");
                continue;
            }

            var fields = real.Keys.Union(emulated.Keys).Order(StringComparer.Ordinal).ToList();
            var diffs = fields.Where(f => real.GetValueOrDefault(f) != emulated.GetValueOrDefault(f)).ToList();
            if (diffs.Count == 0)
            {
                identical++;
                continue;
            }

            bool allKnown = diffs.All(f => KnownDivergences.ContainsKey((key.scenario, key.step, f)));
            if (allKnown)
            {
                known++;
            }
            else
            {
                differing++;
            }

            foreach (string f in diffs)
            {
                string why = KnownDivergences.TryGetValue((key.scenario, key.step, f), out string? reason) ? $"  (known: {reason})" : string.Empty;
                report.AppendLine($"{(allKnown ? "KNOWN" : "DIFF ")} {key.scenario} / {key.step} / {f}: kernel {real.GetValueOrDefault(f) ?? "-"}, engine {emulated.GetValueOrDefault(f) ?? "-"}{why}");
            }
        }

        foreach ((string scenario, string step) key in engine.Keys.Where(k => !kernel.ContainsKey(k)))
        {
            differing++;
            report.AppendLine($"DIFF  {key.scenario} / {key.step}: only the engine ran this step");
        }

        string summary = $"conformance: {scenarios.Count} scenarios, {kernel.Count} steps on the kernel, {engine.Count} on the engine: {identical} identical, {known} known divergences, {differing} differences";
        report.Insert(0, summary + Environment.NewLine);
        File.WriteAllText(reportFile, report.ToString());
        Console.Write(report.ToString());
        return differing == 0 ? 0 : 1;
    }

    private static Dictionary<(string, string), Dictionary<string, string>> Load(string file)
    {
        var steps = new Dictionary<(string, string), Dictionary<string, string>>();
        foreach (string line in File.ReadLines(file).Where(l => l.StartsWith('{')))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            JsonElement root = doc.RootElement;
            var fields = new Dictionary<string, string> { ["errno"] = root.GetProperty("errno").GetString()! };
            foreach (JsonProperty p in root.GetProperty("out").EnumerateObject())
            {
                fields[p.Name] = p.Value.GetString()!;
            }

            steps[(root.GetProperty("scenario").GetString()!, root.GetProperty("step").GetString()!)] = fields;
        }

        return steps;
    }
}
