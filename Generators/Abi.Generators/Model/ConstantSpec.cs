namespace Abi.Generators.Model;

/// <summary>One C# constant: a macro or an anonymous enum's member.</summary>
internal sealed record ConstantSpec(string Name, string CSharpType, string Literal, string CType, string? Doc, string? AbsentFrom);
