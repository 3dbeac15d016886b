using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using Abi.Model;
using Microsoft.CodeAnalysis;

namespace Abi.Headers.Tests;

/// <summary>
/// Random differential testing of the header path: for each seed, a random header
/// (<see cref="RandomHeader"/>) is extracted with libclang, and what the model says is compared with
/// gcc (every size, alignment, offset, bitfield, macro, enum constant and ioctl number); everything
/// the header declares must be in the model or in a note naming the header's file and line; the
/// generator's code must compile without a warning, and the structs it emits, loaded into this
/// process, must have gcc's sizes and offsets. <c>ABI_RANDOM_HEADERS=first:count</c> runs other seeds.
/// </summary>
public sealed class RandomHeaderTests(LinuxHeadersFixture linux)
{
    public static TheoryData<int> Seeds()
    {
        var seeds = new TheoryData<int>();
        string? range = Environment.GetEnvironmentVariable("ABI_RANDOM_HEADERS");
        (int first, int count) = range is null
            ? (1, 40)
            : (int.Parse(range.Split(':')[0], CultureInfo.InvariantCulture), int.Parse(range.Split(':')[1], CultureInfo.InvariantCulture));
        for (int seed = first; seed < first + count; seed++)
        {
            seeds.Add(seed);
        }

        return seeds;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void ARandomHeader_IsDescribedAsGccLaysItOut_AndItsBindingsToo(int seed)
    {
        RandomHeader header = RandomHeader.Create(seed);
        string dir = Directory.CreateTempSubdirectory("abi-random-header-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, header.FileName), header.Text);
            IReadOnlyList<string> includes = [dir, .. linux.Headers["7.2"].IncludeDirectories("x86_64-linux-gnu")];
            AbiModel model = HeaderMatrixTests.ExtractAsAUser(linux, header.FileName, includes);
            string context = $"seed {seed} ({header.FileName}):\n{Numbered(header.Text)}";

            // The model against gcc, enum constants included.
            List<string> expected = GccProbe.Expected(model, enumConstants: true);
            List<string> actual = GccProbe.Run(model, includes, HeaderMatrixTests.Prelude, enumConstants: true);
            List<string> missing = expected.Except(actual).ToList(), extra = actual.Except(expected).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0,
                $"{context}\nmodel says: {string.Join("\nmodel says: ", missing.Take(12))}\ngcc says:   {string.Join("\ngcc says:   ", extra.Take(12))}");

            // Everything declared is described, or noted where it stands.
            var unaccounted = new List<string>();
            HashSet<string> records = model.Records.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            HashSet<string> enums = model.Enums.Select(e => e.Name ?? string.Empty).ToHashSet(StringComparer.Ordinal);
            HashSet<string> macros = model.Macros.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
            HashSet<string> ioctls = model.Ioctls.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
            bool Noted(string name) => model.Notes.Any(n => n.Subject.Contains(name, StringComparison.Ordinal) && NamesALine(n.Location, header));
            unaccounted.AddRange(header.Tags.Concat(header.RecordTypedefs).Where(t => !records.Contains(t) && !Noted(t)).Select(t => "record " + t));
            unaccounted.AddRange(header.Enums.Where(e => !enums.Contains(e) && !Noted(e)).Select(e => "enum " + e));
            unaccounted.AddRange(header.IntegerMacros.Concat(header.StringMacros).Where(m => !macros.Contains(m) && !Noted(m)).Select(m => "macro " + m));
            unaccounted.AddRange(header.Ioctls.Where(i => !ioctls.Contains(i) && !Noted(i)).Select(i => "ioctl " + i));
            Assert.True(unaccounted.Count == 0, $"{context}\nneither described nor noted: {string.Join(", ", unaccounted)}");
            Assert.All(model.Notes, n => Assert.True(NamesALine(n.Location, header) || !n.Location.Contains(header.FileName, StringComparison.Ordinal), $"{context}\nnote at {n.Location}: {n.Subject}"));

            // The bindings compile without a warning and lay out as gcc does.
            string ns = "Random" + seed.ToString(CultureInfo.InvariantCulture);
            GeneratedBindings.Outcome outcome = GeneratedBindings.Run(model, ns, "Ioctls");
            string failures = string.Join("\n", outcome.Generator.Where(d => d.Severity == DiagnosticSeverity.Error || !d.Id.StartsWith("ABI", StringComparison.Ordinal))
                .Concat(outcome.Compiler).Take(12).Select(d => d.ToString()));
            Assert.True(failures.Length == 0, $"{context}\n{failures}");
            CheckLayouts(outcome.Output, ns, model, actual, context);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The emitted structs, loaded into a collectible context: their sizes and field offsets against gcc's.</summary>
    private static void CheckLayouts(Compilation output, string ns, AbiModel model, List<string> gccLines, string context)
    {
        Dictionary<string, string> gcc = gccLines.Select(l => l.Split(' ')).Where(p => p[0] is "R" or "F" or "Z").ToDictionary(p => $"{p[0]} {p[1]}", p => p[2]);
        using var image = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult emitted = output.Emit(image);
        Assert.True(emitted.Success, $"{context}\n{string.Join("\n", emitted.Diagnostics.Take(12))}");
        image.Position = 0;
        var load = new AssemblyLoadContext("random-header", isCollectible: true);
        try
        {
            Assembly assembly = load.LoadFromStream(image);
            var problems = new List<string>();
            foreach (RecordDecl record in model.Records)
            {
                Type? type = assembly.GetType($"{ns}.{record.Name}");
                if (type is null)
                {
                    problems.Add($"no struct {ns}.{record.Name}");
                    continue;
                }

                // A record of size 0 (only zero-length arrays or zero-width bitfields) has one byte in
                // C#, as every struct; members of its type are left out (ABI0101), so nothing moves.
                if (record.Size > 0 && gcc[$"R {record.Name}"] != SizeOf(type).ToString(CultureInfo.InvariantCulture))
                {
                    problems.Add($"{record.Name}: size {SizeOf(type)}, gcc {gcc[$"R {record.Name}"]}");
                }

                foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public))
                {
                    // A renamed member (ABI0103: ToString_, cx_self_) is gcc's under its C name.
                    int offset = field.GetCustomAttribute<FieldOffsetAttribute>()!.Value;
                    string c = gcc.ContainsKey($"F {record.Name}.{field.Name}") ? field.Name : field.Name.TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9').TrimEnd('_');
                    if (!gcc.TryGetValue($"F {record.Name}.{c}", out string? at))
                    {
                        problems.Add($"{record.Name}.{field.Name}: a public field of no C member");
                    }
                    else if (at != offset.ToString(CultureInfo.InvariantCulture) || gcc[$"Z {record.Name}.{c}"] != SizeOf(field.FieldType).ToString(CultureInfo.InvariantCulture))
                    {
                        problems.Add($"{record.Name}.{field.Name}: offset {offset} size {SizeOf(field.FieldType)}, gcc {at} {gcc[$"Z {record.Name}.{c}"]}");
                    }
                }
            }

            Assert.True(problems.Count == 0, $"{context}\n{string.Join("\n", problems.Take(12))}");
        }
        finally
        {
            load.Unload();
        }
    }

    private static int SizeOf(Type type) => type.IsPointer || type.IsFunctionPointer
        ? IntPtr.Size
        : (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;

    private static bool NamesALine(string location, RandomHeader header)
    {
        int colon = location.LastIndexOf(':');
        return colon > 0 && location[..colon].EndsWith(header.FileName, StringComparison.Ordinal)
            && int.TryParse(location[(colon + 1)..], CultureInfo.InvariantCulture, out int line)
            && line >= 1 && line <= header.Text.Count(c => c == '\n');
    }

    private static string Numbered(string text) =>
        string.Join("\n", text.Split('\n').Select((l, i) => $"{i + 1,4}  {l}"));
}
