using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Abi.Headers.Diff;
using Abi.Headers.Extraction;
using Abi.Headers.Interop.Libclang;
using Abi.Headers.Packages;
using Abi.Model;

namespace Abi.Headers.Tool;

/// <summary>The CLI's commands. Each prints one clear error line (followed by clang's errors, if the headers do not parse) and exits non-zero on failure; none leaves a partial file behind.</summary>
internal static class Commands
{
    private static readonly Option<bool> s_allowNewer = new("--allow-newer")
    {
        Description = "When a pinned header package is no longer served, take the newest version of its Debian suite",
    };

    public static Command Fetch()
    {
        var profile = new Option<string>("--profile") { Description = "Profile to fetch (7.2, 6.12) or 'all'", DefaultValueFactory = _ => "all" };
        var command = new Command("fetch", "Download and verify the pinned linux-libc-dev packages into the cache") { profile, s_allowNewer };
        command.SetAction(parse => Guard(() =>
        {
            string name = parse.GetValue(profile)!;
            IEnumerable<HeaderProfile> profiles = name == "all" ? HeaderProfile.All : [HeaderProfile.Find(name)];
            var fetcher = new HeaderFetcher(HeaderCache.Default(), Console.Error.WriteLine);
            foreach (HeaderProfile p in profiles)
            {
                FetchedHeaders headers = fetcher.Fetch(p, parse.GetValue(s_allowNewer));
                Console.WriteLine($"{p.Name}: {HeaderProfile.PackageName} {headers.Version} ({headers.Suite}) sha256 {headers.Sha256} {headers.Origin switch { FetchOrigin.Cache => "already in the cache", FetchOrigin.LocalPackage => "from a local package", _ => "downloaded" }} -> {headers.IncludeDirectory}");
            }
        }));
        return command;
    }

    public static Command Extract()
    {
        var profile = new Option<string>("--profile") { Description = "Kernel profile (7.2, 6.12)", DefaultValueFactory = _ => HeaderProfile.Default.Name };
        var headersDir = new Option<DirectoryInfo?>("--headers") { Description = "Use this include root (holding linux/) instead of the profile's fetched package" };
        var include = new Option<DirectoryInfo[]>("--include") { Description = "An extra include directory, searched before the kernel headers (repeatable)", DefaultValueFactory = _ => [] };
        var header = new Option<string[]>("--header") { Description = "Header to describe (repeatable)", DefaultValueFactory = _ => [.. LinuxHeaderSet.Headers] };
        var target = new Option<string>("--target") { Description = "clang target triple", DefaultValueFactory = _ => "x86_64-linux-gnu" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the model here (default: print the summary only)" };
        var prelude = new Option<string[]>("--prelude")
        {
            Description = "A header included before the headers, as their users include it (repeatable; default linux/types.h and linux/ioctl.h; 'none' for nothing)",
            DefaultValueFactory = _ => [.. ExtractionOptions.DefaultPrelude],
        };
        var define = new Option<string[]>("--define") { Description = "A preprocessor definition NAME or NAME=VALUE (repeatable)", DefaultValueFactory = _ => [] };
        var system = new Option<bool>("--system-includes") { Description = "Search the C library's and the compiler's headers after the kernel headers (for headers that include <stdint.h>, <sys/time.h>)" };
        var emit = new Option<string[]>("--emit") { Description = "A further header whose declarations are emitted too (repeatable); types used are always emitted", DefaultValueFactory = _ => [] };
        var overrides = new Option<FileInfo?>("--overrides") { Description = "An ioctl override file (JSON) for what the header cannot say; the built-in iommufd/VFIO table applies under it" };
        var notes = new Option<bool>("--notes") { Description = "Print every skipped or opaque declaration with its file and line" };
        var command = new Command("extract", "Parse headers with libclang into an ABI model") { profile, headersDir, include, header, target, output, prelude, define, system, emit, overrides, notes, s_allowNewer };
        command.SetAction(parse => Guard(() =>
        {
            HeaderProfile p = HeaderProfile.Find(parse.GetValue(profile)!);
            string triple = parse.GetValue(target)!;
            string triplet = LinuxHeaderSet.TripletOf(triple);
            IReadOnlyList<string> includes;
            HeaderSource source;
            if (parse.GetValue(headersDir) is DirectoryInfo dir)
            {
                includes = [dir.FullName, Path.Combine(dir.FullName, triplet)];
                source = new HeaderSource { Package = "local", Version = dir.FullName };
            }
            else
            {
                FetchedHeaders fetched = new HeaderFetcher(HeaderCache.Default(), Console.Error.WriteLine).Fetch(p, parse.GetValue(s_allowNewer));
                includes = fetched.IncludeDirectories(triplet);
                source = new HeaderSource { Package = HeaderProfile.PackageName, Version = fetched.Version, Suite = fetched.Suite, Sha256 = fetched.Sha256 };
            }

            DirectoryInfo[] extra = parse.GetValue(include)!;
            if (extra.FirstOrDefault(d => !d.Exists) is DirectoryInfo missing)
            {
                throw new ExtractionException($"include directory not found: {missing.FullName}");
            }

            var options = new ExtractionOptions
            {
                Headers = parse.GetValue(header)!,
                IncludeDirectories = extra.Select(d => d.FullName).Concat(includes.Where(Directory.Exists)).ToList(),
                Target = triple,
                Profile = p.Name,
                Source = source,
                Prelude = parse.GetValue(prelude) is ["none"] ? [] : parse.GetValue(prelude)!,
                Defines = parse.GetValue(define)!,
                SystemIncludes = parse.GetValue(system),
                EmitFrom = parse.GetValue(emit)!,
                Overrides = parse.GetValue(overrides) is FileInfo table ? IoctlOverrides.Load(table.FullName) : null,
            };
            var clock = Stopwatch.StartNew();
            AbiModel model;
            using (var extractor = new HeaderExtractor(options))
            {
                model = extractor.Extract();
            }

            double elapsed = clock.Elapsed.TotalMilliseconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Name} {triple}: {model.Records.Count} records, {model.Records.Sum(r => r.Fields.Count)} fields, {model.Enums.Count} enums, " +
                $"{model.Macros.Count} macros ({model.Macros.Count(m => m.Kind is MacroKind.Integer or MacroKind.String)} evaluated), {model.Ioctls.Count} ioctls " +
                $"in {elapsed:F0} ms (libclang {HeaderExtractor.LibclangPath}); {model.Notes.Count(n => n.Kind == ExtractionNoteKind.Skipped)} skipped, {model.Notes.Count(n => n.Kind == ExtractionNoteKind.Opaque)} opaque"));
            if (parse.GetValue(notes))
            {
                foreach (ExtractionNote note in model.Notes)
                {
                    Console.WriteLine($"{note.Location}: {note.Kind.ToString().ToLowerInvariant()}: {note.Subject}: {note.Reason}");
                }
            }

            if (parse.GetValue(output) is FileInfo file)
            {
                ModelFile.Write(model, file.FullName);
                Console.WriteLine($"wrote {file.FullName}");
            }
        }));
        return command;
    }

    public static Command Diff()
    {
        var before = new Argument<FileInfo>("before") { Description = "The older model file" };
        var after = new Argument<FileInfo>("after") { Description = "The newer model file" };
        var output = new Option<FileInfo?>("--out") { Description = "Also write the report to this file" };
        var command = new Command("diff", "Classify every change between two models: added, grown at the tail, compatible, breaking") { before, after, output };
        command.SetAction(parse => Guard(() =>
        {
            AbiModel a = ModelFile.Read(parse.GetValue(before)!.FullName);
            AbiModel b = ModelFile.Read(parse.GetValue(after)!.FullName);
            string report = ModelDiff.Format(a, b, ModelDiff.Compare(a, b));
            Console.Write(report);
            if (parse.GetValue(output) is FileInfo file)
            {
                File.WriteAllText(file.FullName, report);
            }
        }));
        return command;
    }

    /// <summary>Runs a command body; expected failures become one line on stderr and exit code 1.</summary>
    private static int Guard(Action body)
    {
        try
        {
            body();
            return 0;
        }
        catch (Exception e) when (e is ExtractionException or HeaderFetchException or LibclangNotFoundException
            or ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"abi-headers: error: {e.Message}");
            return 1;
        }
    }
}
