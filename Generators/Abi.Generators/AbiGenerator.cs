using System;
using System.Collections.Immutable;
using Abi.Generators.Helpers;
using Abi.Generators.Model;
using Abi.Model;
using Microsoft.CodeAnalysis;

namespace Abi.Generators;

/// <summary>
/// Turns <c>*.abi.json</c> models (AdditionalFiles) into exact-layout structs, enums, constants and
/// typed ioctl wrappers. Every value that flows between steps is an equatable record holding no
/// Roslyn symbol, syntax or location, so an edit that does not touch a model leaves every step
/// cached, and a model edit re-emits only the items whose spec changed. Diagnostics are reported
/// through an output of their own so that they never invalidate generated source.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class AbiGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps, for incremental-generation tests.</summary>
    public static class StepNames
    {
        public const string ModelFiles = nameof(ModelFiles);
        public const string ParsedModels = nameof(ParsedModels);
        public const string BindingSets = nameof(BindingSets);
        public const string Structs = nameof(Structs);
        public const string Enums = nameof(Enums);
        public const string Constants = nameof(Constants);
        public const string Ioctls = nameof(Ioctls);
        public const string InlineArrays = nameof(InlineArrays);
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // Model files and their item metadata (AbiNamespace, AbiRole, AbiOtherIoctlsType).
        IncrementalValuesProvider<ModelInput> inputs = context.AdditionalTextsProvider
            .Where(static file => file.Path.EndsWith(".abi.json", StringComparison.OrdinalIgnoreCase))
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select(static (pair, ct) => Parser.ReadInput(pair.Left, pair.Right.GetOptions(pair.Left), pair.Right.GlobalOptions, ct))
            .WithTrackingName(StepNames.ModelFiles);

        // JSON -> model, checked for what the emitter relies on.
        IncrementalValuesProvider<Result<ParsedModel>> parsed = inputs
            .Select(static (input, ct) => Parser.Parse(input, ct))
            .WithTrackingName(StepNames.ParsedModels);
        context.RegisterSourceOutput(parsed.Select(static (r, _) => r.Diagnostics), ReportDiagnostics);

        // Each primary model with what its baseline (an older profile) lacks.
        IncrementalValuesProvider<ParsedModel> models = parsed
            .Where(static r => r.Value is not null)
            .Select(static (r, _) => r.Value!);
        IncrementalValueProvider<Result<EquatableArray<BindingSet>>> pairing = models
            .Collect()
            .Select(static (all, ct) => Parser.Pair(all, ct));
        context.RegisterSourceOutput(pairing.Select(static (r, _) => r.Diagnostics), ReportDiagnostics);
        IncrementalValuesProvider<BindingSet> sets = pairing
            .SelectMany(static (r, _) => ImmutableArray.CreateRange(r.Value))
            .WithTrackingName(StepNames.BindingSets);

        // One spec per emitted file; unchanged specs keep their cached source.
        IncrementalValuesProvider<StructSpec> structs = sets.SelectMany(static (s, _) => Parser.Structs(s)).WithTrackingName(StepNames.Structs);
        IncrementalValuesProvider<EnumSpec> enums = sets.SelectMany(static (s, _) => Parser.Enums(s)).WithTrackingName(StepNames.Enums);
        IncrementalValuesProvider<ConstantsSpec> constants = sets.Select(static (s, _) => Parser.Constants(s)).WithTrackingName(StepNames.Constants);
        IncrementalValuesProvider<IoctlGroupSpec> ioctls = sets.SelectMany(static (s, _) => Parser.IoctlGroups(s)).WithTrackingName(StepNames.Ioctls);
        IncrementalValuesProvider<InlineArraysSpec> arrays = sets.Select(static (s, _) => Parser.InlineArrays(s)).WithTrackingName(StepNames.InlineArrays);

        context.RegisterSourceOutput(structs, static (spc, spec) => spc.AddSource(spec.HintName, Emitter.Struct(spec)));
        context.RegisterSourceOutput(enums, static (spc, spec) => spc.AddSource(spec.HintName, Emitter.Enum(spec)));
        context.RegisterSourceOutput(constants, static (spc, spec) => spc.AddSource($"{spec.Namespace}.Constants.g.cs", Emitter.Constants(spec)));
        context.RegisterSourceOutput(ioctls, static (spc, spec) => spc.AddSource($"{spec.Namespace}.{spec.TypeName}.g.cs", Emitter.Ioctls(spec)));
        context.RegisterSourceOutput(arrays, static (spc, spec) =>
        {
            if (spec.Lengths.Count > 0)
            {
                spc.AddSource($"{spec.Namespace}.FixedArrays.g.cs", Emitter.InlineArrays(spec));
            }
        });
    }

    private static void ReportDiagnostics(SourceProductionContext context, EquatableArray<DiagnosticInfo> diagnostics)
    {
        foreach (DiagnosticInfo diagnostic in diagnostics)
        {
            context.ReportDiagnostic(diagnostic.ToDiagnostic());
        }
    }
}
