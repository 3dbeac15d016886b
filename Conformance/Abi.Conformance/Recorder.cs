using System.Globalization;
using System.Text;
using System.Text.Json;
using Abi.Interop;

namespace Abi.Conformance;

/// <summary>
/// Writes one JSON line per step: scenario, step, errno and the outputs the step chose to record.
/// Values are written as strings (hex for addresses) so the two sides compare byte for byte.
/// </summary>
public sealed class Recorder(TextWriter output)
{
    private string _scenario = "";

    public int Steps { get; private set; }

    public void Scenario(string name) => _scenario = name;

    /// <summary>Records <paramref name="step"/>'s errno and outputs; returns the errno for chaining.</summary>
    public Errno Step(string step, Errno errno, params (string Key, object Value)[] outputs)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("scenario", _scenario);
            json.WriteString("step", step);
            json.WriteString("errno", errno.ToString());
            json.WriteStartObject("out");
            if (errno == Errno.None)
            {
                foreach ((string key, object value) in outputs)
                {
                    json.WriteString(key, Format(value));
                }
            }
            else
            {
                // A failed step keeps only an explanation, if the scenario gave one.
                foreach ((string key, object value) in outputs.Where(o => o.Key == "error"))
                {
                    json.WriteString(key, Format(value));
                }
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        output.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
        output.Flush();
        Steps++;
        return errno;
    }

    private static string Format(object value) => value switch
    {
        ulong u => $"0x{u:X}",
        uint u => $"0x{u:X}",
        ushort u => $"0x{u:X}",
        long l => l.ToString(CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => value.ToString() ?? "",
    };
}
