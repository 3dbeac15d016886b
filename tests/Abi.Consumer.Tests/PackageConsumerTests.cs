using System.Diagnostics;

namespace Abi.Consumer.Tests;

/// <summary>
/// The packages as a user gets them: packed from this build into a local folder, restored into a
/// fresh project outside the repository (its own package cache, no other feed), built twice.
/// </summary>
public sealed class PackageConsumerTests : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("abi-packages-");

    public void Dispose() => _scratch.Delete(recursive: true);

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Fact]
    public void FreshProject_RestoresTheLocalPackages_AndBuildsBindingsForItsOwnHeader()
    {
        string root = Abi.Tests.RepoRoot.Path;
        string feed = Path.Combine(_scratch.FullName, "feed");
        foreach (string project in new[] { "Generators/Abi.Generators", "Abi/Abi.Interop", "Abi/Abi.Linux" })
        {
            Run(root, "dotnet", "pack", project, "-c", Configuration, "--no-build", "-o", feed);
        }

        string app = Path.Combine(_scratch.FullName, "app");
        Directory.CreateDirectory(Path.Combine(app, "include"));
        File.Copy(Path.Combine(root, "tests", "TestHeaders", "include", "widget.h"), Path.Combine(app, "include", "widget.h"));
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "app.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <AllowUnsafeBlocks>true</AllowUnsafeBlocks>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <RestorePackagesPath>{Path.Combine(_scratch.FullName, "packages")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Abi.Generators" Version="0.1.0" PrivateAssets="all" />
                <PackageReference Include="Abi.Linux" Version="0.1.0" />
                <AbiHeader Include="include/widget.h" Namespace="Widgets" IoctlsType="WidgetIoctls" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Runtime.CompilerServices;
            using Abi.Linux;
            using Widgets;

            var info = new widget_info { revision = 9 };
            Console.WriteLine($"{Unsafe.SizeOf<iommu_ioas_map>()} {Unsafe.SizeOf<widget_info>()} {Unsafe.SizeOf<widget_regs>()} {Abi.Linux.Constants.IOMMU_IOAS_MAP:X} {Widgets.Constants.WIDGET_GET_INFO:X} {info.revision}");
            """);

        string first = Run(app, "dotnet", "build", "-v:n");
        Assert.Contains("x86_64-linux-gnu: 5 records", first, StringComparison.Ordinal);
        string second = Run(app, "dotnet", "build", "-v:n");
        Assert.Contains("Skipping target \"AbiExtractHeaders\" because all output files are up-to-date", second, StringComparison.Ordinal);

        string output = Run(app, "dotnet", Path.Combine(app, "bin", "Debug", "net10.0", "app.dll"));
        Assert.Equal("40 40 13 3B85 80287701 9", output.Trim());
    }

    private static string Run(string directory, string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The outer build's MSBuild settings must not leak into the fresh project's build.
        foreach (string key in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly" })
        {
            start.Environment.Remove(key);
        }

        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({process.ExitCode}):\n{stdout}\n{stderr.Result}");
        return stdout;
    }
}
