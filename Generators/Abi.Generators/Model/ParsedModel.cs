using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>A parsed model with the options it is emitted under.</summary>
internal sealed record ParsedModel(string FilePath, string Namespace, ModelRole Role, string OtherIoctlsType, AbiModel Model);
