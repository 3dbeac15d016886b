namespace Abi.Generators.Model;

/// <summary>The wrapper type an ioctl of no known fd kind goes into, when models of several AbiHeader items share a namespace.</summary>
internal sealed record IoctlType(string Ioctl, string TypeName);
