using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using Abi.Tests;

namespace Abi.Architecture.Tests;

public sealed class ArrowTests
{
    // Outputs of the configuration these tests were built in (Release under test.sh).
    private static readonly string s_configuration = Path.GetFileName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory))!);

    [Fact]
    public void TheProjects_HaveNoForbiddenArrow()
    {
        ProjectGraph graph = ProjectGraph.Load(RepoRoot.Path);
        Assert.Contains("Engine/Abi.Engine/Abi.Engine.csproj", graph.Projects);
        Assert.Contains("Engine/Abi.Engine.Selftest/Abi.Engine.Selftest.csproj", graph.Projects);
        Assert.Empty(ArrowRules.Violations(graph));
    }

    [Fact]
    public void ABackEdge_IsReported_EvenThroughAnotherProject()
    {
        var graph = new ProjectGraph(new(StringComparer.Ordinal)
        {
            ["Runtime/Abi.Runtime/Abi.Runtime.csproj"] = ["Samples/Abi.Samples.Edu/Abi.Samples.Edu.csproj"],
            ["Samples/Abi.Samples.Edu/Abi.Samples.Edu.csproj"] = ["Engine/Abi.Engine/Abi.Engine.csproj"],
            ["Engine/Abi.Engine/Abi.Engine.csproj"] = ["Runtime/Abi.Runtime/Abi.Runtime.csproj"],
        });

        List<string> violations = ArrowRules.Violations(graph);
        Assert.Contains("Runtime/Abi.Runtime/Abi.Runtime.csproj -> Engine/Abi.Engine/Abi.Engine.csproj (Runtime/ never reaches Engine/)", violations);
        Assert.Contains("Samples/Abi.Samples.Edu/Abi.Samples.Edu.csproj -> Engine/Abi.Engine/Abi.Engine.csproj (Samples/Abi.Samples.Edu/ never reaches Engine/)", violations);
        Assert.Contains("Runtime/Abi.Runtime/Abi.Runtime.csproj -> Samples/Abi.Samples.Edu/Abi.Samples.Edu.csproj (Runtime/ never reaches Samples/)", violations);
    }

    [Fact]
    public void TheBuiltRuntime_NamesNoEngineAssemblyOrType()
    {
        using var pe = new PEReader(File.OpenRead(Output("Runtime/Abi.Runtime", "Abi.Runtime.dll")));
        MetadataReader metadata = pe.GetMetadataReader();
        string[] references = [.. metadata.AssemblyReferences.Select(r => metadata.GetString(metadata.GetAssemblyReference(r).Name))];
        Assert.Contains("Abi.Linux", references);
        Assert.DoesNotContain(references, r => r.StartsWith("Abi.Engine", StringComparison.Ordinal));

        string[] namespaces = [.. metadata.TypeDefinitions.Select(t => metadata.GetString(metadata.GetTypeDefinition(t).Namespace)).Distinct()];
        Assert.Contains("Abi.Runtime.Kernel", namespaces);
        Assert.DoesNotContain(namespaces, n => n.StartsWith("Abi.Engine", StringComparison.Ordinal) || n.Contains(".Engine", StringComparison.Ordinal));
    }

    [Fact]
    public void TheDriverSamplesOutput_CarriesTheEngineButNotItsSelftestMock()
    {
        string folder = Path.GetDirectoryName(Output("Samples/Abi.Samples.L2fwd", "l2fwd.dll"))!;
        Assert.True(File.Exists(Path.Combine(folder, "Abi.Engine.dll")), $"{folder} has no Abi.Engine.dll: the sample runs on the engine by default");
        Assert.False(File.Exists(Path.Combine(folder, "Abi.Engine.Selftest.dll")), $"{folder} carries the selftest mock");
    }

    private static string Output(string project, string file)
    {
        string path = Path.Combine(RepoRoot.Path, project, "bin", s_configuration, "net10.0", file);
        Assert.True(File.Exists(path), $"{path} is not built (build the solution in {s_configuration} first)");
        return path;
    }
}
