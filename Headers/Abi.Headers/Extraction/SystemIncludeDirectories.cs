using Abi.Headers.Interop.Libclang;

namespace Abi.Headers.Extraction;

/// <summary>
/// Where a C compiler on this machine finds <c>&lt;stddef.h&gt;</c> and <c>&lt;sys/time.h&gt;</c>: the
/// compiler's own headers (clang's resource directory for the libclang in use, else gcc's), then the
/// C library's. Searched after every <c>-I</c> directory, as <c>-idirafter</c>.
/// </summary>
internal static class SystemIncludeDirectories
{
    public static IReadOnlyList<string> For(string target)
    {
        string triplet = LinuxHeaderSet.TripletOf(target);
        var dirs = new List<string>();
        if (CompilerHeaders(triplet) is string compiler)
        {
            dirs.Add(compiler);
        }

        dirs.AddRange(new[] { "/usr/local/include", $"/usr/include/{triplet}", "/usr/include" }.Where(Directory.Exists));
        return dirs;
    }

    private static string? CompilerHeaders(string triplet)
    {
        // The resource directory of the libclang in use: its builtin headers match its builtins.
        string version = Libclang.EnsureLoaded();
        string major = new(version.SkipWhile(c => !char.IsDigit(c)).TakeWhile(char.IsDigit).ToArray());
        // Only the resource headers of the same major version: another version's builtins may not parse.
        foreach (string root in new[] { $"/usr/lib/llvm-{major}/lib/clang", "/usr/lib/clang", "/usr/local/lib/clang" })
        {
            if (NewestWithStddef(root, v => v == major || v.StartsWith(major + ".", StringComparison.Ordinal)) is string found)
            {
                return found;
            }
        }

        // Else gcc's: its stddef.h and stdarg.h are what the C library's headers expect.
        return NewestWithStddef($"/usr/lib/gcc/{triplet}", _ => true);
    }

    /// <summary>The include folder of the newest <c>root/VERSION/include</c> that holds <c>stddef.h</c>, among the versions <paramref name="wanted"/> accepts.</summary>
    private static string? NewestWithStddef(string root, Func<string, bool> wanted) =>
        Directory.Exists(root)
            ? Directory.GetDirectories(root)
                .Where(d => wanted(Path.GetFileName(d)))
                .Select(d => Path.Combine(d, "include"))
                .Where(d => File.Exists(Path.Combine(d, "stddef.h")))
                .Order(StringComparer.Ordinal)
                .LastOrDefault()
            : null;
}
