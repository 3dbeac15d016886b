using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>One struct or union to emit, with the baseline profile's view of it.</summary>
internal sealed record StructSpec(string Namespace, RecordDecl Record, string? Baseline, bool IsNew, EquatableArray<string> NewFields)
{
    /// <summary>The profile that lacks the whole record, if any.</summary>
    public string? AbsentFrom => IsNew ? Baseline : null;

    /// <summary>The profile that lacks this field, if any.</summary>
    public string? FieldAbsentFrom(string field) => IsNew || NewFields.Contains(field) ? Baseline : null;
}
