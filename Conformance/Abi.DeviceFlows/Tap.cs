using System.Globalization;

namespace Abi.DeviceFlows;

/// <summary>Test Anything Protocol lines as the kselftest harness prints them, so one parser reads both.</summary>
internal sealed class Tap(TextWriter output)
{
    private int _number;

    public int Passed { get; private set; }

    public int Failed { get; private set; }

    public void Plan(int count)
    {
        output.WriteLine("TAP version 13");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"1..{count}"));
    }

    public void Result(string name, string? failure)
    {
        _number++;
        if (failure is null)
        {
            Passed++;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ok {_number} {name}"));
        }
        else
        {
            Failed++;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# {name}: {failure}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"not ok {_number} {name}"));
        }
    }
}
