namespace Abi.Generators.Model;

/// <summary>A model file with its item metadata, before parsing.</summary>
internal sealed record ModelInput(string FilePath, string Text, string Namespace, ModelRole Role, string OtherIoctlsType);
