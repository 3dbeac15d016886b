using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>
/// All constants of a model, emitted into one static class, and the ioctls' minimum argument sizes
/// (<see cref="IoctlDecl.MinSize"/>), emitted into another.
/// </summary>
internal sealed record ConstantsSpec(string Namespace, EquatableArray<ConstantSpec> Constants, EquatableArray<ConstantSpec> MinSizes);
