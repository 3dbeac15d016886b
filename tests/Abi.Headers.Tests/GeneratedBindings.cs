extern alias generator;

using System.Collections.Immutable;
using System.Text;
using Abi.Model;
using Abi.Tests;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;

namespace Abi.Headers.Tests;

/// <summary>
/// The real generator run on a model in a Roslyn compilation, as a consumer's build runs it, with
/// every warning wave on: what it reports and what the compiler says of the code it generated.
/// </summary>
internal static class GeneratedBindings
{
    public sealed record Outcome(ImmutableArray<Diagnostic> Generator, ImmutableArray<Diagnostic> Compiler, ImmutableArray<SyntaxTree> Sources, Compilation Output);

    public static Outcome Run(AbiModel model, string ns, string ioctlsType)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest, DocumentationMode.Diagnose);
        CSharpCompilation input = CSharpCompilation.Create(
            "Consumer",
            [CSharpSyntaxTree.ParseText("namespace Consumer; internal static class Anchor { }", parse)],
            BindingReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable, warningLevel: 9999));
        var text = new ModelText($"/models/{ns}.abi.json", Encoding.UTF8.GetString(AbiModelSerializer.Serialize(model)));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            [new generator::Abi.Generators.AbiGenerator().AsSourceGenerator()],
            [text],
            parse,
            new Options(new Dictionary<string, string>
            {
                ["build_metadata.AdditionalFiles.AbiNamespace"] = ns,
                ["build_metadata.AdditionalFiles.AbiOtherIoctlsType"] = ioctlsType,
            }));
        driver.RunGeneratorsAndUpdateCompilation(input, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        ImmutableArray<Diagnostic> compiler = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();
        return new Outcome(generatorDiagnostics, compiler, output.SyntaxTrees.Skip(1).ToImmutableArray(), output);
    }

    private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptionsProvider
    {
        private readonly ConfigOptions _file = new(values);

        public override AnalyzerConfigOptions GlobalOptions { get; } = new ConfigOptions([]);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => new ConfigOptions([]);

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => _file;
    }

    private sealed class ConfigOptions(Dictionary<string, string> values) : AnalyzerConfigOptions
    {
        public override bool TryGetValue(string key, out string value) => values.TryGetValue(key, out value!);
    }
}
