using System.Collections.Immutable;
using System.Globalization;
using Microsoft.CodeAnalysis;

namespace Abi.Generators.Tests;

public sealed class DiagnosticsTests
{
    [Fact]
    public void MalformedModel_GivesABI0001AtTheFile_AndNoSource()
    {
        ModelFile broken = ModelFile.From("/models/broken.abi.json", "{ \"schemaVersion\": 1,\n  \"records\": [ oops ] }");
        (GeneratorDriver driver, _, ImmutableArray<Diagnostic> diagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(broken), GeneratorHarness.Compilation());

        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal("ABI0001", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("/models/broken.abi.json", diagnostic.Location.GetLineSpan().Path);
        Assert.Equal(1, diagnostic.Location.GetLineSpan().StartLinePosition.Line);
        Assert.Contains("abi-headers extract", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(driver.GetRunResult().GeneratedTrees);
        Assert.Null(driver.GetRunResult().Results.Single().Exception);
    }

    [Fact]
    public void UnknownSchemaVersion_GivesABI0001()
    {
        string text = File.ReadAllText(GeneratorHarness.WidgetModel).Replace("\"schemaVersion\": 2", "\"schemaVersion\": 7", StringComparison.Ordinal);
        (_, _, ImmutableArray<Diagnostic> diagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(ModelFile.From("/m/w.abi.json", text)), GeneratorHarness.Compilation());
        Assert.Contains("schema version 7", Assert.Single(diagnostics).GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void IoctlNamingAMissingStruct_GivesABI0002_AndNoSource()
    {
        string text = File.ReadAllText(GeneratorHarness.WidgetModel).Replace("\"struct\": \"widget_regs\"", "\"struct\": \"widget_gone\"", StringComparison.Ordinal);
        (GeneratorDriver driver, _, ImmutableArray<Diagnostic> diagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(ModelFile.From("/m/w.abi.json", text)), GeneratorHarness.Compilation());
        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal("ABI0002", diagnostic.Id);
        Assert.Contains("WIDGET_POKE", diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.Empty(driver.GetRunResult().GeneratedTrees);
    }

    [Fact]
    public void TwoModelsInOneNamespace_AreMerged_EachDeclarationOnce()
    {
        ModelFile a = ModelFile.From(GeneratorHarness.WidgetModel, virtualPath: "/m/a.abi.json");
        ModelFile b = ModelFile.From(GeneratorHarness.WidgetModel, virtualPath: "/m/b.abi.json");
        (GeneratorDriver driver, Compilation output, ImmutableArray<Diagnostic> diagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(a, b), GeneratorHarness.Compilation());
        Assert.Empty(diagnostics);
        Assert.Single(driver.GetRunResult().GeneratedTrees, t => t.FilePath.EndsWith(".widget_info.g.cs", StringComparison.Ordinal));
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void TwoModelsInOneNamespace_DeclaringOneStructDifferently_GiveABI0004AtTheSecond()
    {
        ModelFile a = ModelFile.From(GeneratorHarness.WidgetModel, virtualPath: "/m/a.abi.json");
        string changed = File.ReadAllText(GeneratorHarness.WidgetModel).Replace("\"size\": 40,", "\"size\": 48,", StringComparison.Ordinal);
        ModelFile b = ModelFile.From("/m/b.abi.json", changed);
        (_, _, ImmutableArray<Diagnostic> diagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(a, b), GeneratorHarness.Compilation());
        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal("ABI0004", diagnostic.Id);
        Assert.Equal("/m/b.abi.json", diagnostic.Location.GetLineSpan().Path);
        Assert.Contains("struct widget_info", diagnostic.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void MacroOfACTypeWithoutACSharpConstant_GivesABI0003_AndTheRestIsEmitted()
    {
        string text = File.ReadAllText(GeneratorHarness.WidgetModel).Replace("\"cType\": \"unsigned int\"", "\"cType\": \"__int128\"", StringComparison.Ordinal);
        (GeneratorDriver driver, _, ImmutableArray<Diagnostic> diagnostics) = GeneratorHarness.Run(GeneratorHarness.Driver(ModelFile.From("/m/w.abi.json", text, ns: "W")), GeneratorHarness.Compilation());
        Assert.All(diagnostics, d => Assert.Equal(("ABI0003", DiagnosticSeverity.Info), (d.Id, d.Severity)));
        Assert.NotEmpty(diagnostics);
        Assert.Contains(driver.GetRunResult().GeneratedTrees, t => t.FilePath.EndsWith("W.widget_info.g.cs", StringComparison.Ordinal));
    }
}
