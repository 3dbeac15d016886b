using Microsoft.CodeAnalysis;

namespace Abi.Generators.Tests;

/// <summary>
/// The emitted sources, file by file, against kept baselines. Set UPDATE_BASELINES=1 to rewrite them
/// after an intended change, then review the diff.
/// </summary>
public sealed class OutputTests
{
    [Fact]
    public void WidgetModel_EmitsTheBaselineFiles()
    {
        ModelFile widget = ModelFile.From(GeneratorHarness.WidgetModel, ns: "Widgets", otherType: "WidgetIoctls", virtualPath: "/models/widget.abi.json");
        (GeneratorDriver driver, _, _) = GeneratorHarness.Run(GeneratorHarness.Driver(widget), GeneratorHarness.Compilation());
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Null(result.Exception);

        string dir = Path.Combine(GeneratorHarness.RepoRoot, "tests", "Abi.Generators.Tests", "Baselines", "Widget");
        Dictionary<string, string> generated = result.GeneratedSources.ToDictionary(s => s.HintName + ".txt", s => s.SourceText.ToString());
        if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1")
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            Directory.CreateDirectory(dir);
            foreach ((string name, string text) in generated)
            {
                File.WriteAllText(Path.Combine(dir, name), text);
            }
        }

        var kept = Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(kept, generated.Keys.Order(StringComparer.Ordinal).ToList());
        foreach ((string name, string text) in generated)
        {
            Assert.Equal(File.ReadAllText(Path.Combine(dir, name)), text);
        }
    }

    [Theory]
    [InlineData("widget")]
    [InlineData("linux")]
    public void GeneratedCode_CompilesWithoutAWarning(string which)
    {
        ModelFile[] models = which == "widget"
            ? [ModelFile.From(GeneratorHarness.WidgetModel, ns: "Widgets", otherType: "WidgetIoctls")]
            : [ModelFile.From(GeneratorHarness.LinuxModel("7.2"), ns: "Linux", otherType: "VfioMigrationIoctls"), ModelFile.From(GeneratorHarness.LinuxModel("6.12"), ns: "Linux", role: "baseline")];
        (_, Compilation output, var generatorDiagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(models), GeneratorHarness.Compilation());

        Assert.Empty(generatorDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        Diagnostic[] problems = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        Assert.True(problems.Length == 0, string.Join("\n", problems.Take(20).Select(d => d.ToString())));
        Assert.True(output.SyntaxTrees.Count() > (which == "widget" ? 6 : 100));
    }

    [Fact]
    public void BaselineProfile_MarksWhatItLacks()
    {
        ModelFile primary = ModelFile.From(GeneratorHarness.LinuxModel("7.2"), ns: "Linux");
        ModelFile baseline = ModelFile.From(GeneratorHarness.LinuxModel("6.12"), ns: "Linux", role: "baseline");
        (GeneratorDriver driver, _, _) = GeneratorHarness.Run(GeneratorHarness.Driver(primary, baseline), GeneratorHarness.Compilation());
        Dictionary<string, string> files = driver.GetRunResult().GeneratedTrees.ToDictionary(t => Path.GetFileName(t.FilePath), t => t.ToString());

        string bind = files["Linux.vfio_device_bind_iommufd.g.cs"];
        Assert.Contains("[global::Abi.Interop.AbsentFromProfile(\"6.12\")]\n    [FieldOffset(16)]\n    public ulong token_uuid_ptr;", bind, StringComparison.Ordinal);
        Assert.DoesNotContain("AbsentFromProfile(\"6.12\")]\n    [FieldOffset(8)]", bind, StringComparison.Ordinal);
        Assert.StartsWith("[global::Abi.Interop.AbsentFromProfile(\"6.12\")]", files["Linux.iommu_ioas_map_file.g.cs"].Split("\n").First(l => l.StartsWith('[') && l.Contains("AbsentFromProfile", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.DoesNotContain("AbsentFromProfile", files["Linux.iommu_ioas_map.g.cs"], StringComparison.Ordinal);
        Assert.Contains("[global::Abi.Interop.AbsentFromProfile(\"6.12\")]\n    public const uint IOMMU_IOAS_MAP_FILE = 0x3B8F;", files["Linux.Constants.g.cs"], StringComparison.Ordinal);
        Assert.DoesNotContain("AbsentFromProfile(\"6.12\")]\n    public const uint IOMMU_IOAS_MAP =", files["Linux.Constants.g.cs"], StringComparison.Ordinal);
    }
}
