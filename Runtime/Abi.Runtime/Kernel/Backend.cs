namespace Abi.Runtime.Kernel;

/// <summary>
/// Chooses the backend: in code (<see cref="Create"/>), or by <c>ABI_BACKEND=kernel|engine</c>;
/// when nothing is said, the kernel if <c>/dev/iommu</c> or <c>/dev/vfio</c> exists, the engine
/// otherwise. <see cref="Default"/> says once, on stderr, which one runs and why. The runtime knows
/// no engine: an application that wants one composes it (<c>Abi.Engine</c>'s
/// <c>EmulatedKernel.Register()</c> calls <see cref="RegisterEngine"/>).
/// </summary>
public static class Backend
{
    /// <summary>The environment variable that picks the backend.</summary>
    public const string EnvironmentVariable = "ABI_BACKEND";

    private static readonly Lazy<IKernel> s_default = new(() => Resolve(Environment.GetEnvironmentVariable(EnvironmentVariable), File.Exists, Directory.Exists, Console.Error.WriteLine, s_engine));
    private static Func<IKernel>? s_engine;

    /// <summary>The backend for this process, chosen once.</summary>
    public static IKernel Default => s_default.Value;

    /// <summary>Sets the engine handed out as <c>engine</c>: any in-process <see cref="IKernel"/>, for example one configured with emulated devices.</summary>
    public static void RegisterEngine(Func<IKernel> factory) => s_engine = factory ?? throw new ArgumentNullException(nameof(factory));

    /// <summary>The backend named <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">Not <c>kernel</c> or <c>engine</c>.</exception>
    /// <exception cref="InvalidOperationException"><c>engine</c>, and no engine was registered.</exception>
    public static IKernel Create(string name) => CreateWith(name, s_engine);

    private static IKernel CreateWith(string name, Func<IKernel>? engine) => name switch
    {
        "kernel" => LinuxKernel.Instance,
        "engine" => engine?.Invoke() ?? throw new InvalidOperationException(
            "no engine is registered: reference the Abi.Engine package and call EmulatedKernel.Register() first, or set ABI_BACKEND=kernel on a machine with VFIO"),
        _ => throw new ArgumentException($"unknown backend '{name}'; use 'kernel' or 'engine'", nameof(name)),
    };

    /// <summary>The choice itself, with its inputs passed in so that it can be tested.</summary>
    internal static IKernel Resolve(string? requested, Func<string, bool> fileExists, Func<string, bool> directoryExists, Action<string> say, Func<IKernel>? engine)
    {
        string name;
        string why;
        if (!string.IsNullOrEmpty(requested))
        {
            name = requested;
            why = $"{EnvironmentVariable}={requested}";
        }
        else if (fileExists("/dev/iommu") || directoryExists("/dev/vfio"))
        {
            name = "kernel";
            why = fileExists("/dev/iommu") ? "/dev/iommu exists" : "/dev/vfio exists";
        }
        else
        {
            name = "engine";
            why = "no /dev/iommu or /dev/vfio here";
        }

        IKernel kernel = CreateWith(name, engine);
        say($"abi: using the {kernel.Name} backend ({why})");
        return kernel;
    }
}
