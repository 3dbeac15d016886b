using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>The fixed-array lengths a namespace's structs use; one <c>FixedArrayN&lt;T&gt;</c> each.</summary>
internal sealed record InlineArraysSpec(string Namespace, EquatableArray<int> Lengths);
