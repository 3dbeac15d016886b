using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>A primary model and what its baseline lacks.</summary>
internal sealed record BindingSet(ParsedModel Primary, ProfileDelta Delta)
{
    /// <summary>For merged models: the wrapper type of each ioctl of no known fd kind, from its own AbiHeader item.</summary>
    public EquatableArray<IoctlType> OtherTypes { get; init; } = EquatableArray<IoctlType>.Empty;
}
