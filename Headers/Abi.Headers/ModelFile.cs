using Abi.Model;

namespace Abi.Headers;

/// <summary>Reads and writes model files. Writes go to a temporary file that is renamed into place, so a failure never leaves a partial model.</summary>
public static class ModelFile
{
    public static void Write(AbiModel model, string path)
    {
        string full = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(full);
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        string temporary = $"{full}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllBytes(temporary, AbiModelSerializer.Serialize(model));
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <exception cref="FormatException">The file is not a model.</exception>
    public static AbiModel Read(string path)
    {
        try
        {
            return AbiModelSerializer.Deserialize(File.ReadAllBytes(path));
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }
}
