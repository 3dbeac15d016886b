using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[assembly: DisableRuntimeMarshalling]

namespace Abi.Headers.Interop.Libclang;

/// <summary>
/// The libclang C API (clang-c/Index.h), the parts the extractor uses. Grouped by area in the
/// partials of this class, as ClangSharp.Interop does. Every struct crosses by value and is blittable.
/// </summary>
internal static unsafe partial class Libclang
{
    private const string LibraryName = "libclang";

    /// <summary>Sonames tried in order after the NuGet package's library: Debian's libclang1-14 first, then 15-19.</summary>
    internal static readonly string[] CandidateNames =
    [
        "libclang-14.so.1", "libclang-15.so.1", "libclang-16.so.1", "libclang-17.so.1",
        "libclang-18.so.1", "libclang-19.so.1", "libclang.so.1", "libclang.so",
    ];

    static Libclang() => NativeLibrary.SetDllImportResolver(typeof(Libclang).Assembly, Resolve);

    /// <summary>The library actually loaded, once a call has been made.</summary>
    internal static string? LoadedFrom { get; private set; }

    /// <summary>Loads libclang now, so that a missing library is reported before any work starts.</summary>
    /// <exception cref="LibclangNotFoundException">No usable libclang was found.</exception>
    internal static string EnsureLoaded()
    {
        if (!s_crashRecoveryOff)
        {
            // libclang's crash recovery installs SIGSEGV handlers that take the signal .NET turns into
            // a NullReferenceException anywhere else in the process (a generator, a test) and kill it
            // with SIGILL. Parses here do not need it: a parse that fails is an error either way.
            clang_toggleCrashRecovery(0);
            s_crashRecoveryOff = true;
        }

        using CXString version = clang_getClangVersion();
        return version.ToString();
    }

    private static bool s_crashRecoveryOff;

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != LibraryName)
        {
            return 0;
        }

        string? overridePath = Environment.GetEnvironmentVariable("LIBCLANG_PATH");
        if (!string.IsNullOrEmpty(overridePath))
        {
            if (NativeLibrary.TryLoad(overridePath, out nint handle))
            {
                LoadedFrom = overridePath;
                return handle;
            }

            throw new LibclangNotFoundException($"LIBCLANG_PATH={overridePath} could not be loaded");
        }

        // The NuGet package's library, as the application's dependency manifest places it.
        if (NativeLibrary.TryLoad(name, assembly, searchPath, out nint packaged))
        {
            LoadedFrom = "libclang.runtime.linux-x64 (NuGet)";
            return packaged;
        }

        foreach (string candidate in CandidateNames)
        {
            if (NativeLibrary.TryLoad(candidate, out nint handle))
            {
                LoadedFrom = candidate;
                return handle;
            }
        }

        throw new LibclangNotFoundException("no libclang found (tried the NuGet package, then " + string.Join(", ", CandidateNames) + ")");
    }
}
