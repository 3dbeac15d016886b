using System.Diagnostics;

namespace Abi.Consumer.Tests;

/// <summary>
/// The packages as a user gets them: packed from this build into a local folder, restored into a
/// fresh project outside the repository (its own package cache; besides the packed packages, only
/// this machine's NuGet cache as a feed, for libclang), built twice.
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
        string feed = PackConsumerPackages(root);

        // The README's consumer snippet, as written, around the user's own header (the test widget).
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int marker = readme.IndexOf("<!-- consumer-snippet -->", StringComparison.Ordinal);
        Assert.True(marker >= 0, "the README has no consumer snippet");
        int start = readme.IndexOf("```xml\n", marker, StringComparison.Ordinal) + "```xml\n".Length;
        string snippet = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];

        string app = Path.Combine(_scratch.FullName, "app");
        Directory.CreateDirectory(Path.Combine(app, "include", "extra"));
        File.Copy(Path.Combine(root, "tests", "TestHeaders", "include", "widget.h"), Path.Combine(app, "include", "my_uapi.h"));
        File.WriteAllText(Path.Combine(app, "my-ioctls.json"), """
            { "ioctls": [ { "name": "WIDGET_RESET", "argument": "value", "direction": "none", "why": "the test widget's reset takes a value" } ] }
            """);
        WriteFeedConfig(app, feed);
        WriteProject(Path.Combine(app, "app.csproj"), snippet);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Runtime.CompilerServices;
            using Abi.Interop;
            using My.Bindings;

            var info = new widget_info { revision = 9 };
            var reset = typeof(MyIoctls).GetMethod("Reset", [typeof(nint)]);                // by value, as the override says
            Console.WriteLine($"{Unsafe.SizeOf<Uffd.uffdio_api>()} {Unsafe.SizeOf<widget_info>()} {Unsafe.SizeOf<widget_regs>()} {Uffd.Constants.UFFDIO_API:X} {My.Bindings.Constants.WIDGET_GET_INFO:X} {info.revision} {reset is not null} {LinuxIoctlSeam.Instance is IIoctlSeam}");
            """);

        string first = Run(app, "dotnet", "build", "-v:n");
        Assert.Contains("x86_64-linux-gnu: 5 records", first, StringComparison.Ordinal);
        string second = Run(app, "dotnet", "build", "-v:n");
        Assert.Equal(2, CountOf(second, "Skipping target \"AbiExtractHeaders\" because all output files are up-to-date"));

        // uffdio_api is 24 bytes and UFFDIO_API 0xC018AA3F by gcc; the widget's sizes as in WidgetBindingTests.
        string output = Run(app, "dotnet", Path.Combine(app, "bin", "Debug", "net10.0", "app.dll"));
        Assert.Equal("24 40 13 C018AA3F 80287701 9 True True", output.Trim());
    }

    [Fact]
    public void FreshProject_BuildsTheHeaderMatrix_WithWarningsAsErrors_AndRebuildsNothing()
    {
        string root = Abi.Tests.RepoRoot.Path;
        string feed = PackConsumerPackages(root);

        // Every matrix header by include name (the pinned package), and the construct header as a user's own.
        string[] headers =
        [
            "linux/userfaultfd.h", "linux/kvm.h", "linux/io_uring.h", "linux/perf_event.h", "linux/gpio.h",
            "linux/if_tun.h", "linux/i2c-dev.h", "linux/videodev2.h", "linux/fs.h", "drm/drm.h",
            "linux/usbdevice_fs.h", "linux/iommufd.h", "linux/vfio.h",
        ];
        string app = Path.Combine(_scratch.FullName, "matrix");
        Directory.CreateDirectory(Path.Combine(app, "include", "other"));
        File.Copy(Path.Combine(root, "tests", "TestHeaders", "include", "constructs.h"), Path.Combine(app, "include", "constructs.h"));
        File.Copy(Path.Combine(root, "tests", "TestHeaders", "include", "other", "colors.h"), Path.Combine(app, "include", "other", "colors.h"));
        string items = string.Concat(headers.Select((h, i) => $"    <AbiHeader Include=\"{h}\" Namespace=\"M{i}\" IoctlsType=\"Ioctls{i}\" />\n"));
        WriteFeedConfig(app, feed);
        WriteProject(Path.Combine(app, "matrix.csproj"), $"""
              <ItemGroup>
                <PackageReference Include="Abi.Generators" Version="0.1.0" PrivateAssets="all" />
                <PackageReference Include="Abi.Interop" Version="0.1.0" />
            {items}    <AbiHeader Include="include/constructs.h" Namespace="Cx" IoctlsType="CxIoctls" IncludeDirectories="include" />
              </ItemGroup>

            """, allowUnsafe: true);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Runtime.CompilerServices;

            // Sizes gcc gives over the same headers: kvm_run 2352, v4l2_format 208, uffd_msg 32, drm_version 64,
            // io_uring_sqe 64, perf_event_attr 144, cx_packed_array 16; KVM_RUN 0xAE80, VIDIOC_S_FMT 0xC0D05605.
            Console.WriteLine(string.Join(' ',
                Unsafe.SizeOf<M1.kvm_run>(), Unsafe.SizeOf<M7.v4l2_format>(), Unsafe.SizeOf<M0.uffd_msg>(), Unsafe.SizeOf<M9.drm_version>(),
                Unsafe.SizeOf<M2.io_uring_sqe>(), Unsafe.SizeOf<M3.perf_event_attr>(), Unsafe.SizeOf<Cx.cx_packed_array>(),
                M1.Constants.KVM_RUN.ToString("X", null), M7.Constants.VIDIOC_S_FMT.ToString("X", null)));
            """);

        string first = Run(app, "dotnet", "build", "-v:n");
        Assert.DoesNotContain("warning CS", first, StringComparison.Ordinal);
        Assert.Contains("(libclang " + Path.Combine(_scratch.FullName, "packages", "libclang.runtime.linux-x64"), first, StringComparison.Ordinal);  // from NuGet, not apt
        Assert.Equal(headers.Length + 1, first.Split('\n').Count(l => l.Contains("x86_64-linux-gnu: ", StringComparison.Ordinal) && l.Contains(" records", StringComparison.Ordinal)));

        // The construct header's notes and renames are warnings at their C line, and do not fail the build.
        int line = Array.FindIndex(File.ReadAllLines(Path.Combine(app, "include", "constructs.h")), l => l.Contains("long double scale;", StringComparison.Ordinal)) + 1;
        Assert.Contains($"constructs.h({line},1): warning ABI0102", first, StringComparison.Ordinal);
        Assert.Contains("warning ABI0103", first, StringComparison.Ordinal);

        string second = Run(app, "dotnet", "build", "-v:n");
        Assert.Equal(headers.Length + 1, CountOf(second, "Skipping target \"AbiExtractHeaders\" because all output files are up-to-date"));
        Assert.Contains("Skipping target \"CoreCompile\"", second, StringComparison.Ordinal);

        string output = Run(app, "dotnet", Path.Combine(app, "bin", "Debug", "net10.0", "matrix.dll"));
        Assert.Equal("2352 208 32 64 64 144 16 AE80 C0D05605", output.Trim());
    }

    [Fact]
    public void TheLibclangTheTargetsLookFor_IsTheOneThePackageDependsOn()
    {
        string root = Abi.Tests.RepoRoot.Path;
        string props = File.ReadAllText(Path.Combine(root, "Generators", "Abi.Generators", "build", "Abi.Generators.props"));
        string central = File.ReadAllText(Path.Combine(root, "Directory.Packages.props"));
        string version = System.Text.RegularExpressions.Regex.Match(central, "libclang.runtime.linux-x64\" Version=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(version);
        Assert.Contains($">{version}</AbiLibclangVersion>", props, StringComparison.Ordinal);
    }

    /// <summary>The packages a consumer takes (the generator with its tool, and the interop), packed from this build into a local feed.</summary>
    private string PackConsumerPackages(string root)
    {
        string feed = Path.Combine(_scratch.FullName, "feed");
        foreach (string project in new[] { "Generators/Abi.Generators", "Abi/Abi.Interop" })
        {
            Run(root, "dotnet", "pack", project, "-c", Configuration, "--no-build", "-o", feed);
        }

        return feed;
    }

    private static int CountOf(string text, string part)
    {
        int count = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>
    /// The packed packages, and this machine's NuGet cache as the only other feed: it holds what they
    /// depend on (libclang.runtime.linux-x64), which the repository's own restore put there.
    /// </summary>
    /// <summary>A consumer's project: an executable with warnings as errors, restoring into the scratch folder, <paramref name="body"/> after its properties.</summary>
    private void WriteProject(string path, string body, bool allowUnsafe = false)
    {
        string unsafeBlocks = allowUnsafe ? "\n    <AllowUnsafeBlocks>true</AllowUnsafeBlocks>" : string.Empty;
        File.WriteAllText(path, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>{unsafeBlocks}
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <RestorePackagesPath>{Path.Combine(_scratch.FullName, "packages")}</RestorePackagesPath>
              </PropertyGroup>
            {body}</Project>
            """);
    }

    private static void WriteFeedConfig(string app, string feed)
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{feed}" />
                <add key="cache" value="{cache}" />
              </packageSources>
            </configuration>
            """);
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
