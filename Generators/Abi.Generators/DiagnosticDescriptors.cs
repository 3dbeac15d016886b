using System;
using Microsoft.CodeAnalysis;

namespace Abi.Generators;

/// <summary>Every diagnostic the generator reports. Ids are stable; each message says what is wrong and how to fix it.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Abi.Generators";

    public static readonly DiagnosticDescriptor InvalidModel = new(
        "ABI0001",
        "ABI model file is not valid",
        "'{0}' is not a valid ABI model: {1}. Regenerate it with 'abi-headers extract'.",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        customTags: WellKnownDiagnosticTags.NotConfigurable);

    public static readonly DiagnosticDescriptor UnknownRecord = new(
        "ABI0002",
        "Model refers to a record it does not declare",
        "'{0}' refers to struct '{1}', which the model does not declare; regenerate the model or fix the ioctl override table",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        customTags: WellKnownDiagnosticTags.NotConfigurable);

    public static readonly DiagnosticDescriptor UnsupportedConstantType = new(
        "ABI0003",
        "Macro has a C type with no C# constant",
        "#define {0} has C type '{1}', which has no C# constant type; it is not emitted",
        Category,
        DiagnosticSeverity.Info,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateModel = new(
        "ABI0004",
        "Two models in one namespace declare one name differently",
        "{0} is declared differently by '{1}' and '{2}', which both emit into namespace '{3}'; the second is left out. Give one AbiHeader another Namespace (or mark the older model AbiRole=\"baseline\").",
        Category,
        DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        customTags: WellKnownDiagnosticTags.NotConfigurable);

    public static readonly DiagnosticDescriptor Skipped = new(
        "ABI0101",
        "A header declaration has no binding",
        "{0} is not generated: {1}",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Opaque = new(
        "ABI0102",
        "A header member is generated as bytes",
        "{0} is generated as bytes of its exact size and offset: {1}",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Renamed = new(
        "ABI0103",
        "A C name is renamed in C#",
        "{0} is generated as '{1}': {2}",
        Category,
        DiagnosticSeverity.Warning,
        isEnabledByDefault: true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "ABI0101" => Skipped,
        "ABI0102" => Opaque,
        "ABI0103" => Renamed,
        "ABI0001" => InvalidModel,
        "ABI0002" => UnknownRecord,
        "ABI0003" => UnsupportedConstantType,
        "ABI0004" => DuplicateModel,
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "unknown diagnostic id"),
    };
}
