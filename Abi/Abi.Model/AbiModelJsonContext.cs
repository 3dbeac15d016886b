using System.Text.Json.Serialization;

namespace Abi.Model;

/// <summary>The source-generated serializer for model files. Output is deterministic: fixed property order, LF line ends, no timestamps.</summary>
[JsonSourceGenerationOptions(
    WriteIndented = true,
    IndentSize = 2,
    NewLine = "\n",
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true,
    RespectRequiredConstructorParameters = true,
    AllowTrailingCommas = false)]
[JsonSerializable(typeof(AbiModel))]
[JsonSerializable(typeof(HeaderSource))]
[JsonSerializable(typeof(TargetInfo))]
[JsonSerializable(typeof(RecordDecl))]
[JsonSerializable(typeof(FieldDecl))]
[JsonSerializable(typeof(TypeRef))]
[JsonSerializable(typeof(EnumDecl))]
[JsonSerializable(typeof(EnumConstant))]
[JsonSerializable(typeof(MacroDecl))]
[JsonSerializable(typeof(IoctlDecl))]
[JsonSerializable(typeof(DocComment))]
[JsonSerializable(typeof(ExtractionNote))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(int))]
public sealed partial class AbiModelJsonContext : JsonSerializerContext
{
}
