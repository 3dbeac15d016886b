using System.Text.Json;
using System.Text.Json.Serialization;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// The ioctl facts the headers do not state, or state wrongly: which fd kind an ioctl belongs to,
/// and, per ioctl, its argument and direction. Each entry says why it exists.
/// </summary>
public sealed record IoctlOverrides
{
    // The serializer sets init-only properties together, absent ones to null: keep them empty instead.
    public IReadOnlyList<FdKindRule> FdKinds { get; init => field = value ?? []; } = [];

    public IReadOnlyList<IoctlOverride> Ioctls { get; init => field = value ?? []; } = [];

    /// <summary>Headers that declare the types the entries name (<c>struct ifreq</c> is in <c>linux/if.h</c>), included only to resolve them.</summary>
    public IReadOnlyList<string> Includes { get; init => field = value ?? []; } = [];

    /// <summary>
    /// The built-in tables: iommufd and VFIO (<c>Ioctls/ioctl-overrides.json</c>) and the ioctls of
    /// common Linux UAPI headers whose handlers read the argument otherwise than the encoding says
    /// (<c>Ioctls/linux-uapi-overrides.json</c>: tun, KVM, perf, fs and block, i2c-dev, usbdevfs),
    /// each entry citing the handler it was read from.
    /// </summary>
    public static IoctlOverrides BuiltIn { get; } = LoadBuiltIn("ioctl-overrides.json").Over(LoadBuiltIn("linux-uapi-overrides.json"));

    /// <summary>The fd kind for <paramref name="ioctl"/>: the longest matching prefix wins.</summary>
    public FdKind FdKindOf(string ioctl) =>
        FdKinds.Where(r => ioctl.StartsWith(r.Prefix, StringComparison.Ordinal))
            .OrderByDescending(r => r.Prefix.Length)
            .Select(r => (FdKind?)r.FdKind)
            .FirstOrDefault() ?? FdKind.Other;

    public IoctlOverride? For(string ioctl) => Ioctls.FirstOrDefault(o => o.Name == ioctl);

    /// <summary>This table's entries over <paramref name="under"/>'s: an ioctl named in both takes this table's entry.</summary>
    public IoctlOverrides Over(IoctlOverrides under) => new()
    {
        FdKinds = [.. FdKinds, .. under.FdKinds.Where(r => !FdKinds.Any(o => o.Prefix == r.Prefix))],
        Ioctls = [.. Ioctls, .. under.Ioctls.Where(r => For(r.Name) is null)],
        Includes = [.. Includes, .. under.Includes.Where(h => !Includes.Contains(h))],
    };

    /// <summary>Reads a user's override file.</summary>
    /// <exception cref="ExtractionException">The file is missing or is not an override table.</exception>
    public static IoctlOverrides Load(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            return Parse(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new ExtractionException($"{path}: not a readable ioctl override table: {e.Message}");
        }
    }

    public static IoctlOverrides Parse(Stream utf8Json) =>
        JsonSerializer.Deserialize(utf8Json, IoctlOverridesJsonContext.Default.IoctlOverrides)
        ?? throw new ExtractionException("the ioctl override table is empty");

    private static IoctlOverrides LoadBuiltIn(string name)
    {
        using Stream stream = typeof(IoctlOverrides).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException(name + " is not embedded");
        return Parse(stream);
    }
}

/// <summary>Ioctls whose names start with <see cref="Prefix"/> are issued on <see cref="FdKind"/>.</summary>
public sealed record FdKindRule
{
    public required string Prefix { get; init; }

    public required FdKind FdKind { get; init; }

    public string? Why { get; init; }
}

/// <summary>What to use for one ioctl instead of, or in addition to, its kernel-doc.</summary>
public sealed record IoctlOverride
{
    public required string Name { get; init; }

    /// <summary>What the kernel's handler takes: <c>none</c>, <c>struct</c>, <c>value</c>, <c>pointer</c>, <c>intPointer</c>, <c>string</c>.</summary>
    public IoctlArgKind? Argument { get; init; }

    /// <summary>For <c>struct</c>: the struct's tag.</summary>
    public string? Struct { get; init; }

    /// <summary>For <c>pointer</c> and <c>value</c>: the C type (<c>__u64</c>, <c>struct ifreq</c>, <c>int[2]</c>), resolved by clang.</summary>
    public string? Type { get; init; }

    public IoctlDirection? Direction { get; init; }

    /// <summary>The kind of fd the ioctl is issued on, when the name's prefix does not say.</summary>
    public FdKind? FdKind { get; init; }

    /// <summary>
    /// For a struct argument: the member whose end is the smallest size the handler accepts
    /// (<c>IOCTL_OP(.., last)</c> in <c>drivers/iommu/iommufd/main.c</c>, <c>offsetofend</c> in a VFIO handler).
    /// </summary>
    public string? MinSizeMember { get; init; }

    /// <summary>Leave the ioctl out of the bindings (its constant stays).</summary>
    public bool Skip { get; init; }

    /// <summary>The kernel source the entry was read from (<c>drivers/net/tun.c: __tun_chr_ioctl</c>).</summary>
    public string? Source { get; init; }

    public string? Why { get; init; }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(IoctlOverrides))]
internal sealed partial class IoctlOverridesJsonContext : JsonSerializerContext
{
}
