using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>One named enum to emit, with the baseline profile's view of it.</summary>
internal sealed record EnumSpec(string Namespace, EnumDecl Enum, string? Baseline, bool IsNew, EquatableArray<string> NewConstants)
{
    /// <summary>The generated file's hint name, unique ignoring case.</summary>
    public string HintName { get; init; } = string.Empty;

    /// <summary>The profile that lacks the whole enum, if any.</summary>
    public string? AbsentFrom => IsNew ? Baseline : null;

    /// <summary>The profile that lacks this member, if any.</summary>
    public string? ConstantAbsentFrom(string constant) => IsNew || NewConstants.Contains(constant) ? Baseline : null;
}
