using System;
using System.Text.Json;

namespace Abi.Model;

/// <summary>Reads and writes <c>*.abi.json</c> model files.</summary>
public static class AbiModelSerializer
{
    /// <summary>Serializes <paramref name="model"/> to UTF-8 JSON, byte-identical for equal models.</summary>
    public static byte[] Serialize(AbiModel model)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(model, AbiModelJsonContext.Default.AbiModel);
        byte[] withNewline = new byte[json.Length + 1];
        json.CopyTo(withNewline, 0);
        withNewline[json.Length] = (byte)'\n';
        return withNewline;
    }

    /// <summary>Parses a model file.</summary>
    /// <exception cref="FormatException">The text is not a model of a known schema version.</exception>
    public static AbiModel Deserialize(ReadOnlySpan<byte> utf8Json)
    {
        AbiModel? model;
        try
        {
            model = JsonSerializer.Deserialize(utf8Json, AbiModelJsonContext.Default.AbiModel);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" at line {line + 1}" : string.Empty;
            throw new FormatException($"not a valid ABI model{where}: {e.Message}", e);
        }

        if (model is null)
        {
            throw new FormatException("not a valid ABI model: the file holds null");
        }

        if (model.SchemaVersion != AbiModel.CurrentSchemaVersion)
        {
            throw new FormatException($"ABI model schema version {model.SchemaVersion} is not supported (expected {AbiModel.CurrentSchemaVersion})");
        }

        return model;
    }
}
