using Abi.Model;

namespace Abi.Generators.Helpers;

/// <summary>A pipeline value and the diagnostics found while computing it; both equatable.</summary>
internal sealed record Result<TValue>(TValue? Value, EquatableArray<DiagnosticInfo> Diagnostics);
