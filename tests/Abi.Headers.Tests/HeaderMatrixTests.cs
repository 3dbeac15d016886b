using System.Globalization;
using System.Text;
using Abi.Headers.Extraction;
using Abi.Headers.Packages;
using Abi.Model;
using Microsoft.CodeAnalysis;

namespace Abi.Headers.Tests;

/// <summary>
/// Common Linux UAPI headers beyond iommufd.h and vfio.h, from the pinned package, each taken as a
/// user's <c>&lt;AbiHeader&gt;</c> takes it (the default prelude, the system's C headers): extracted,
/// compared with gcc (every size, alignment, offset, macro and ioctl number), generated and compiled
/// with every warning wave on, its argument types checked against the encoded sizes, and its
/// summary and notes compared with a kept baseline (<c>Expected/header-matrix/</c>; rewrite with
/// <c>UPDATE_BASELINES=1</c> and review the diff).
/// </summary>
public sealed class HeaderMatrixTests(LinuxHeadersFixture linux)
{
    public static readonly TheoryData<string> Headers =
    [
        "linux/userfaultfd.h", "linux/kvm.h", "linux/io_uring.h", "linux/perf_event.h", "linux/gpio.h",
        "linux/if_tun.h", "linux/i2c-dev.h", "linux/videodev2.h", "linux/fs.h", "drm/drm.h",
        "linux/usbdevice_fs.h", "linux/iommufd.h", "linux/vfio.h",

        // The project's own header of every construct the others might not show (tests/TestHeaders).
        "constructs.h",
    ];

    private static string TestHeaders => Path.Combine(RepoPaths.Root, "tests", "TestHeaders", "include");

    private IReadOnlyList<string> IncludeDirectories =>
        [TestHeaders, .. linux.Headers["7.2"].IncludeDirectories("x86_64-linux-gnu")];

    public static readonly string[] Prelude = ["linux/types.h", "linux/ioctl.h"];

    private AbiModel Extract(string header) => ExtractAsAUser(linux, header, IncludeDirectories);

    /// <summary>One header extracted as a user's <c>&lt;AbiHeader&gt;</c> takes it: the default prelude, the system's C headers.</summary>
    internal static AbiModel ExtractAsAUser(LinuxHeadersFixture linux, string header, IReadOnlyList<string> includeDirectories)
    {
        var options = LinuxHeadersFixture.Options(HeaderProfile.Find("7.2"), linux.Headers["7.2"], "x86_64-linux-gnu") with
        {
            Headers = [header],
            IncludeDirectories = includeDirectories,
            Prelude = Prelude,
            SystemIncludes = true,
        };
        using var extractor = new HeaderExtractor(options);
        return extractor.Extract();
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Header_MatchesGcc(string header)
    {
        AbiModel model = Extract(header);
        List<string> expected = GccProbe.Expected(model);
        List<string> actual = GccProbe.Run(model, IncludeDirectories, Prelude);
        List<string> missing = expected.Except(actual).ToList();
        List<string> extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{header}: model vs gcc differ:\n  model says: {string.Join("\n  model says: ", missing.Take(20))}\n  gcc says:   {string.Join("\n  gcc says:   ", extra.Take(20))}");
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Header_ArgumentTypes_HaveTheEncodedSize(string header)
    {
        // _IOR(type, nr, T) encodes sizeof(T): the type clang resolved must have that size.
        AbiModel model = Extract(header);
        Dictionary<string, int> sizes = model.Records.ToDictionary(r => r.Name, r => r.Size, StringComparer.Ordinal);
        var wrong = new List<string>();
        foreach (IoctlDecl ioctl in model.Ioctls.Where(i => i.Source == IoctlSource.Encoding && i.EncodedDirection != IoctlDirection.None))
        {
            int? size = ioctl.Argument switch
            {
                IoctlArgKind.Struct => sizes[ioctl.Struct!],
                IoctlArgKind.IntPointer => 4,
                IoctlArgKind.Pointer => ioctl.ArgumentType!.ArrayLengths.AsSpan().ToArray().Aggregate(ioctl.ArgumentType.ElementSize, (a, n) => a * n),
                _ => null,
            };
            if (size != ioctl.EncodedSize)
            {
                wrong.Add($"{ioctl.Name}: {ioctl.Argument} of {size} bytes, encoded {ioctl.EncodedSize}");
            }
        }

        Assert.Empty(wrong);
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Header_GeneratesCodeThatCompilesWithoutWarnings(string header)
    {
        AbiModel model = Extract(header);
        GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, "Matrix." + Naming(header), "Ioctls");
        string failures = string.Join("\n", outcome.Generator.Where(d => d.Severity == DiagnosticSeverity.Error || !d.Id.StartsWith("ABI", StringComparison.Ordinal)).Select(d => d.GetMessage(CultureInfo.InvariantCulture)));
        Assert.True(failures.Length == 0, failures);
        Assert.Empty(outcome.Compiler.Select(d => d.ToString()).Take(20));

        // Every record, named enum and ioctl of the model has its binding.
        string all = string.Concat(outcome.Sources.Select(t => t.ToString()));
        Assert.True(outcome.Sources.Length >= model.Records.Count, $"{outcome.Sources.Length} files for {model.Records.Count} records");
        Assert.All(model.Ioctls, i => Assert.Contains($"Constants.{i.Name})", all, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Headers))]
    public void Header_SummaryAndNotes_MatchTheBaseline(string header)
    {
        AbiModel model = Extract(header);
        GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, "Matrix." + Naming(header), "Ioctls");
        var text = new StringBuilder();
        int declarations = model.Records.Count + model.Records.Sum(r => r.Fields.Count) + model.Enums.Count + model.Ioctls.Count
            + model.Notes.Count(n => n.Kind == ExtractionNoteKind.Skipped);
        text.Append(CultureInfo.InvariantCulture, $"{header}: {model.Records.Count} records, {model.Records.Sum(r => r.Fields.Count)} fields, {model.Enums.Count} enums, ");
        text.Append(CultureInfo.InvariantCulture, $"{model.Macros.Count(m => m.Kind is MacroKind.Integer or MacroKind.String or MacroKind.Float)} constants, {model.Ioctls.Count} ioctls, ");
        text.Append(CultureInfo.InvariantCulture, $"{model.Notes.Count(n => n.Kind == ExtractionNoteKind.Skipped)} skipped, {model.Notes.Count(n => n.Kind == ExtractionNoteKind.Opaque)} opaque\n");
        foreach (ExtractionNote note in model.Notes)
        {
            text.Append(CultureInfo.InvariantCulture, $"{note.Location}: {note.Kind}: {note.Subject}: {note.Reason}\n");
        }

        foreach (Diagnostic d in outcome.Generator.Where(d => d.Id == "ABI0103").OrderBy(d => d.GetMessage(CultureInfo.InvariantCulture), StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"{d.Location.GetLineSpan().Path}:{d.Location.GetLineSpan().StartLinePosition.Line + 1}: Renamed: {d.GetMessage(CultureInfo.InvariantCulture)}\n");
        }

        // What the generator leaves out of the model (the model's own notes are above).
        foreach (Diagnostic d in outcome.Generator.Where(d => d.Id == "ABI0101" && !model.Notes.Any(n => d.GetMessage(CultureInfo.InvariantCulture).StartsWith(n.Subject + " ", StringComparison.Ordinal)))
            .OrderBy(d => d.GetMessage(CultureInfo.InvariantCulture), StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"{d.Location.GetLineSpan().Path}:{d.Location.GetLineSpan().StartLinePosition.Line + 1}: Left out: {d.GetMessage(CultureInfo.InvariantCulture)}\n");
        }

        string path = Path.Combine(RepoPaths.Root, "tests", "Abi.Headers.Tests", "Expected", "header-matrix", Naming(header) + ".txt");
        if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(path, text.ToString());
        }

        Assert.True(File.Exists(path), $"no baseline {path}; run with UPDATE_BASELINES=1");
        Assert.Equal(File.ReadAllText(path), text.ToString());

        // The issue's bar: fewer than 2% of a header's declarations skipped.
        Assert.True(model.Notes.Count(n => n.Kind == ExtractionNoteKind.Skipped) * 50 < Math.Max(declarations, 1));
    }

    [Fact]
    public void EveryHeaderOfThePackage_ExtractsAndGeneratesWarningFreeCode()
    {
        // Beyond the matrix: every header of linux-libc-dev 7.2.13 (not the per-architecture asm
        // copies), taken alone as a user would. Those that do not parse alone in C either (they
        // expect the including file to provide size_t, struct timespec, IFNAMSIZ, Xen's types) are
        // kept with clang's first error in Expected/header-matrix/not-self-contained.txt.
        string root = linux.Headers["7.2"].IncludeDirectory;
        List<string> headers = Directory.GetFiles(root, "*.h", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p))
            .Where(p => !p.Contains("-linux-gnu", StringComparison.Ordinal) && !p.StartsWith("asm-generic/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        var unparsable = new StringBuilder();
        var problems = new List<string>();
        int generated = 0;
        foreach (string header in headers)
        {
            AbiModel model;
            try
            {
                model = Extract(header);
            }
            catch (ExtractionException e)
            {
                string first = e.Message.Split('\n')[1].Trim();
                unparsable.Append(CultureInfo.InvariantCulture, $"{header}: {first[(first.IndexOf(": error: ", StringComparison.Ordinal) + 2)..]}\n");
                continue;
            }

            GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, "Sweep", "Ioctls");
            problems.AddRange(outcome.Generator.Where(d => d.Severity == DiagnosticSeverity.Error || !d.Id.StartsWith("ABI", StringComparison.Ordinal))
                .Concat(outcome.Compiler).Take(3).Select(d => $"{header}: {d}"));
            generated++;
        }

        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));
        string path = Path.Combine(RepoPaths.Root, "tests", "Abi.Headers.Tests", "Expected", "header-matrix", "not-self-contained.txt");
        if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(path, unparsable.ToString());
        }

        Assert.Equal(File.ReadAllText(path), unparsable.ToString());
        Assert.True(generated > 900, $"{generated} headers generated");
    }

    private static string Naming(string header) =>
        string.Concat(header.Replace(".h", string.Empty, StringComparison.Ordinal).Split('/', '-', '_').Select(p => char.ToUpperInvariant(p[0]) + p[1..]));
}
