using System.Diagnostics;

namespace Abi.Headers.Tests;

/// <summary>The CLI as a user runs it: a separate process, exit codes, one clear line on bad input, no partial file.</summary>
public sealed class CliTests(LinuxHeadersFixture linux) : IDisposable
{
    private readonly DirectoryInfo _scratch = Directory.CreateTempSubdirectory("abi-cli-");

    public void Dispose() => _scratch.Delete(recursive: true);

    [Fact]
    public void Extract_WritesAModelAndReportsItsTime()
    {
        string output = Path.Combine(_scratch.FullName, "m.abi.json");
        (int code, string stdout, string stderr) = Run(null, "extract", "--headers", linux.Headers["7.2"].IncludeDirectory, "--out", output);
        Assert.True(code == 0, stderr);
        Assert.Matches(@"7\.2 x86_64-linux-gnu: 88 records, 373 fields, 29 enums, 209 macros \(204 evaluated\), 55 ioctls in \d+ ms", stdout);
        Assert.Equal(linux.Linux72.Records, Abi.Headers.ModelFile.Read(output).Records);
    }

    [Fact]
    public void UnparsableHeader_ListsEveryClangErrorWithFileAndLineAndLeavesNoFile()
    {
        string include = Path.Combine(_scratch.FullName, "include");
        Directory.CreateDirectory(Path.Combine(include, "linux"));
        File.WriteAllText(Path.Combine(include, "linux", "broken.h"), "struct broken { int a }\nstruct broken2 { unknown_t b; };\n");
        string output = Path.Combine(_scratch.FullName, "out.abi.json");
        File.WriteAllText(output, "previous contents");

        (int code, _, string stderr) = Run(null, "extract", "--headers", include, "--header", "linux/broken.h", "--out", output);

        // One error line, then each of clang's errors (not only the first), with file and line.
        Assert.Equal(1, code);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("abi-headers: error: the headers do not parse (2 error(s))", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        Assert.Contains("linux/broken.h:1:24: error: expected ';'", lines[1], StringComparison.Ordinal);
        Assert.Contains("linux/broken.h:2:18: error: unknown type name 'unknown_t'", lines[2], StringComparison.Ordinal);
        Assert.Equal("previous contents", File.ReadAllText(output));
        Assert.Single(Directory.GetFiles(_scratch.FullName));
    }

    [Fact]
    public void MissingHeader_FailsWithOneLine()
    {
        string output = Path.Combine(_scratch.FullName, "out.abi.json");
        (int code, _, string stderr) = Run(null, "extract", "--headers", linux.Headers["7.2"].IncludeDirectory, "--header", "linux/no-such-header.h", "--out", output);
        AssertOneErrorLine(code, stderr, "header not found: linux/no-such-header.h");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void MissingIncludeDirectory_FailsWithOneLine()
    {
        (int code, _, string stderr) = Run(null, "extract", "--headers", Path.Combine(_scratch.FullName, "nowhere"));
        AssertOneErrorLine(code, stderr, "not found");
    }

    [Fact]
    public void MissingLibclang_FailsWithOneLineNamingThePackage()
    {
        string output = Path.Combine(_scratch.FullName, "out.abi.json");
        (int code, _, string stderr) = Run(
            new() { ["LIBCLANG_PATH"] = Path.Combine(_scratch.FullName, "libclang-missing.so") },
            "extract", "--headers", linux.Headers["7.2"].IncludeDirectory, "--out", output);
        AssertOneErrorLine(code, stderr, "libclang1-14");
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void WrongProfile_FailsWithOneLineListingTheKnownOnes()
    {
        (int code, _, string stderr) = Run(null, "extract", "--profile", "9.9");
        AssertOneErrorLine(code, stderr, "unknown profile '9.9'; known profiles: 7.2 (sid 7.2.13-1), 6.12 (trixie 6.12.107-1)");
    }

    [Fact]
    public void DiffOfANonModel_FailsWithOneLine()
    {
        string bogus = Path.Combine(_scratch.FullName, "bogus.json");
        File.WriteAllText(bogus, "[1, 2, 3]");
        (int code, _, string stderr) = Run(null, "diff", bogus, bogus);
        AssertOneErrorLine(code, stderr, "not a valid ABI model");
    }

    [Fact]
    public void Diff_PrintsTheClassifiedReport()
    {
        string a = Path.Combine(RepoPaths.Models, Abi.Headers.LinuxHeaderSet.ModelFileName("6.12"));
        string b = Path.Combine(RepoPaths.Models, Abi.Headers.LinuxHeaderSet.ModelFileName("7.2"));
        (int code, string stdout, string stderr) = Run(null, "diff", a, b);
        Assert.True(code == 0, stderr);
        Assert.Contains("grown      struct vfio_device_bind_iommufd: 16 -> 24 bytes", stdout, StringComparison.Ordinal);
    }

    private static void AssertOneErrorLine(int code, string stderr, string expected)
    {
        Assert.Equal(1, code);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected one line, got:\n" + stderr);
        Assert.StartsWith("abi-headers: error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
    }

    private static (int Code, string Stdout, string Stderr) Run(Dictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "abi-headers.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach ((string key, string value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }
}
