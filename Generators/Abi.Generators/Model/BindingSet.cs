namespace Abi.Generators.Model;

/// <summary>A primary model and what its baseline lacks.</summary>
internal sealed record BindingSet(ParsedModel Primary, ProfileDelta Delta);
