using System.Reflection;
using System.Text;
using Abi.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Abi.Generators.Tests;

public sealed class IncrementalTests
{
    private static readonly string[] s_steps =
    [
        AbiGenerator.StepNames.ModelFiles, AbiGenerator.StepNames.ParsedModels, AbiGenerator.StepNames.BindingSets,
        AbiGenerator.StepNames.Structs, AbiGenerator.StepNames.Enums, AbiGenerator.StepNames.Constants,
        AbiGenerator.StepNames.Ioctls, AbiGenerator.StepNames.InlineArrays,
    ];

    private static ModelFile Widget(string? text = null) =>
        ModelFile.From(GeneratorHarness.WidgetModel, text, ns: "Widgets", otherType: "WidgetIoctls", virtualPath: "/models/widget.abi.json");

    [Fact]
    public void AddingAnUnrelatedType_LeavesEveryStepCached()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation("namespace App; public class A { }");
        (GeneratorDriver driver, _, _) = GeneratorHarness.Run(GeneratorHarness.Driver(Widget()), compilation);

        driver = driver.RunGenerators(compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace App; public class B { }")));
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        foreach (string step in s_steps)
        {
            IEnumerable<IncrementalStepRunReason> reasons = run.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);
            Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        }

        Assert.All(run.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void EditingOneStruct_RegeneratesOnlyThatStruct()
    {
        ModelFile before = Widget();
        (GeneratorDriver driver, _, _) = GeneratorHarness.Run(GeneratorHarness.Driver(before), GeneratorHarness.Compilation());

        AbiModel model = AbiModelSerializer.Deserialize(Encoding.UTF8.GetBytes(File.ReadAllText(GeneratorHarness.WidgetModel)));
        RecordDecl regs = model.Records.Single(r => r.Name == "widget_regs");
        AbiModel edited = model with
        {
            Records = model.Records.Select(r => r == regs ? regs with { Doc = new DocComment { Summary = "Edited summary." } } : r).ToEquatableArray(),
        };
        ModelFile after = Widget(Encoding.UTF8.GetString(AbiModelSerializer.Serialize(edited)));
        driver = driver.ReplaceAdditionalText(before.Text, after.Text).RunGenerators(GeneratorHarness.Compilation());
        GeneratorRunResult run = driver.GetRunResult().Results.Single();

        var structs = run.TrackedSteps[AbiGenerator.StepNames.Structs].SelectMany(s => s.Outputs).ToList();
        Assert.Equal(5, structs.Count);
        Assert.Single(structs, o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Equal(4, structs.Count(o => o.Reason == IncrementalStepRunReason.Unchanged));
        foreach (string step in new[] { AbiGenerator.StepNames.Enums, AbiGenerator.StepNames.Constants, AbiGenerator.StepNames.Ioctls, AbiGenerator.StepNames.InlineArrays })
        {
            Assert.All(run.TrackedSteps[step].SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Unchanged, o.Reason));
        }

        Assert.Contains("Edited summary.", run.GeneratedSources.Single(s => s.HintName == "Widgets.widget_regs.g.cs").SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void PipelineValues_HoldNoRoslynSymbolsOrSyntax()
    {
        (GeneratorDriver driver, _, _) = GeneratorHarness.Run(GeneratorHarness.Driver(Widget()), GeneratorHarness.Compilation());
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        var visited = new HashSet<object>(ReferenceEqualityComparer.Instance);
        int checkedValues = 0;
        foreach (string step in s_steps)
        {
            foreach ((object value, _) in run.TrackedSteps[step].SelectMany(s => s.Outputs))
            {
                AssertNoRoslynObjects(value, step, visited);
                checkedValues++;
            }
        }

        Assert.True(checkedValues > 10);
    }

    private static readonly Type[] s_forbidden = [typeof(ISymbol), typeof(Compilation), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(SemanticModel)];

    private static void AssertNoRoslynObjects(object? value, string path, HashSet<object> visited)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || !visited.Add(value))
        {
            return;
        }

        Type type = value.GetType();
        Assert.False(s_forbidden.Any(f => f.IsAssignableFrom(type)), $"{path} holds a {type.FullName}");
        if (value is System.Collections.IEnumerable items)
        {
            int i = 0;
            foreach (object? item in items)
            {
                AssertNoRoslynObjects(item, $"{path}[{i++}]", visited);
            }

            return;
        }

        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            AssertNoRoslynObjects(field.GetValue(value), $"{path}.{field.Name}", visited);
        }
    }
}
