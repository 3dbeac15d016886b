using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>One struct or union to emit, with the baseline profile's view of it.</summary>
internal sealed record StructSpec(string Namespace, RecordDecl Record, string? Baseline, bool IsNew, EquatableArray<string> NewFields)
{
    /// <summary>The generated file's hint name, unique ignoring case.</summary>
    public string HintName { get; init; } = string.Empty;

    /// <summary>The record's C alignment, when C# must be told it (packed records); null otherwise.</summary>
    public int? Pack { get; init; }

    /// <summary>The profile that lacks the whole record, if any.</summary>
    public string? AbsentFrom => IsNew ? Baseline : null;

    /// <summary>The profile that lacks this field, if any.</summary>
    public string? FieldAbsentFrom(string field) => IsNew || NewFields.Contains(field) ? Baseline : null;
}
