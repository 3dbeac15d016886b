using System.Text;
using Abi.Generators;
using BenchmarkDotNet.Attributes;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Abi.Benchmarks;

/// <summary>Full generation of the Linux bindings (7.2 model with the 6.12 baseline) from a cold driver.</summary>
[MemoryDiagnoser]
public class GeneratorBenchmarks
{
    private CSharpCompilation _compilation = null!;
    private AdditionalText[] _models = null!;
    private AnalyzerConfigOptionsProvider _options = null!;

    [GlobalSetup]
    public void Setup()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Abi.sln")))
        {
            root = Path.GetDirectoryName(root)!;
        }

        _models =
        [
            new Text(Path.Combine(root, "Abi", "Models", "linux-iommufd-vfio.7.2.abi.json")),
            new Text(Path.Combine(root, "Abi", "Models", "linux-iommufd-vfio.6.12.abi.json")),
        ];
        _options = new Options(_models[1].Path);
        _compilation = CSharpCompilation.Create("Bench", [], [MetadataReference.CreateFromFile(typeof(object).Assembly.Location)]);
    }

    /// <summary>A cold run: parse both models, compute the delta, emit every file.</summary>
    [Benchmark]
    public int GenerateLinuxBindings()
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new AbiGenerator().AsSourceGenerator()], _models, optionsProvider: _options);
        return driver.RunGenerators(_compilation).GetRunResult().GeneratedTrees.Length;
    }

    private sealed class Text(string path) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(File.ReadAllText(path), Encoding.UTF8);

        public override string Path { get; } = path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    private sealed class Options(string baselinePath) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Values([]);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => GlobalOptions;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => new Values(new()
        {
            ["build_metadata.AdditionalFiles.AbiNamespace"] = "Abi.Linux",
            ["build_metadata.AdditionalFiles.AbiRole"] = textFile.Path == baselinePath ? "baseline" : "primary",
        });
    }

    private sealed class Values(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
    }
}
