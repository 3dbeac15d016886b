using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>All constants of a model, emitted into one static class.</summary>
internal sealed record ConstantsSpec(string Namespace, EquatableArray<ConstantSpec> Constants);
