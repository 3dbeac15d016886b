using System.Collections.Immutable;
using System.Text;
using Abi.Tests;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Abi.Generators.Tests;

/// <summary>Runs the real generator on real model files inside a Roslyn compilation, with step tracking on.</summary>
internal static class GeneratorHarness
{
    public static string RepoRoot => Abi.Tests.RepoRoot.Path;

    public static string LinuxModel(string profile) => Path.Combine(RepoRoot, "Abi", "Models", $"linux-iommufd-vfio.{profile}.abi.json");

    public static string WidgetModel => Path.Combine(RepoRoot, "tests", "TestHeaders", "widget.abi.json");

    public static CSharpCompilation Compilation(params string[] sources) => CSharpCompilation.Create(
        "Consumer",
        sources.Select(s => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose))),
        BindingReferences.All,
        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(params ModelFile[] models) =>
        CSharpGeneratorDriver.Create(
            [new AbiGenerator().AsSourceGenerator()],
            models.Select(m => (AdditionalText)m.Text),
            new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose),
            new OptionsProvider(models),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator and returns the driver, the output compilation and every diagnostic.</summary>
    public static (GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(GeneratorDriver driver, Compilation input)
    {
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return (driver, output, diagnostics);
    }

    private sealed class OptionsProvider(IEnumerable<ModelFile> models) : AnalyzerConfigOptionsProvider
    {
        private readonly Dictionary<string, Options> _byPath = models.ToDictionary(m => m.Text.Path, m => new Options(m.Metadata));

        public override AnalyzerConfigOptions GlobalOptions { get; } = new Options(new Dictionary<string, string> { ["build_property.RootNamespace"] = "Consumer" });

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new Options([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
            _byPath.TryGetValue(textFile.Path, out Options? options) ? options : new Options([]);
    }

    private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
    }
}

/// <summary>A model file as the generator sees it: text plus AbiNamespace/AbiRole/AbiOtherIoctlsType metadata.</summary>
internal sealed record ModelFile(ModelText Text, Dictionary<string, string> Metadata)
{
    public static ModelFile From(string path, string? text = null, string ns = "Test.Bindings", string? role = null, string? otherType = null, string? virtualPath = null)
    {
        var metadata = new Dictionary<string, string> { ["build_metadata.AdditionalFiles.AbiNamespace"] = ns };
        if (role is not null)
        {
            metadata["build_metadata.AdditionalFiles.AbiRole"] = role;
        }

        if (otherType is not null)
        {
            metadata["build_metadata.AdditionalFiles.AbiOtherIoctlsType"] = otherType;
        }

        return new ModelFile(new ModelText(virtualPath ?? path, text ?? File.ReadAllText(path)), metadata);
    }
}
