using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>The wrapper type for one fd kind.</summary>
internal sealed record IoctlGroupSpec(string Namespace, string TypeName, FdKind FdKind, EquatableArray<IoctlSpec> Ioctls);
