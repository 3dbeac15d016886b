using Abi.Conformance;
using Abi.Conformance.Scenarios;

// abi-conformance run kernel|engine [out.jsonl]   — run every scenario, one JSON line per step
// abi-conformance compare kernel.jsonl engine.jsonl report.txt
// Two fixed commands with positional arguments: a parser library would outweigh them in the guest binary.
if (args.Length >= 2 && args[0] == "run" && args[1] is "kernel" or "engine")
{
    Devices devices = args[1] == "engine" ? Devices.Engine() : Devices.Sysfs();
    using TextWriter output = args.Length > 2 ? new StreamWriter(args[2]) : Console.Out;
    var recorder = new Recorder(output);
    IoasScenario.Run(devices.Kernel, recorder);
    CdevScenario.Run(devices, recorder);
    Type1Scenario.Run(devices, recorder);
    VirtioScenario.Run(devices, recorder);
    InventoryScenario.Run(devices, recorder);
    Console.Error.WriteLine($"abi-conformance: {recorder.Steps} steps recorded on the {devices.Kernel.Name} backend");
    return 0;
}

if (args.Length == 4 && args[0] == "compare")
{
    return Comparison.Run(args[1], args[2], args[3]);
}

Console.Error.WriteLine("usage: abi-conformance run kernel|engine [out.jsonl] | compare kernel.jsonl engine.jsonl report.txt");
return 2;
