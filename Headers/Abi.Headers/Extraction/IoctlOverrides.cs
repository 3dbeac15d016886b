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
    public required IReadOnlyList<FdKindRule> FdKinds { get; init; }

    public required IReadOnlyList<IoctlOverride> Ioctls { get; init; }

    /// <summary>The table for the Linux iommufd and VFIO headers, embedded from <c>Ioctls/ioctl-overrides.json</c>.</summary>
    public static IoctlOverrides BuiltIn { get; } = LoadBuiltIn();

    /// <summary>The fd kind for <paramref name="ioctl"/>: the longest matching prefix wins.</summary>
    public FdKind FdKindOf(string ioctl) =>
        FdKinds.Where(r => ioctl.StartsWith(r.Prefix, StringComparison.Ordinal))
            .OrderByDescending(r => r.Prefix.Length)
            .Select(r => (FdKind?)r.FdKind)
            .FirstOrDefault() ?? FdKind.Other;

    public IoctlOverride? For(string ioctl) => Ioctls.FirstOrDefault(o => o.Name == ioctl);

    public static IoctlOverrides Parse(Stream utf8Json) =>
        JsonSerializer.Deserialize(utf8Json, IoctlOverridesJsonContext.Default.IoctlOverrides)
        ?? throw new ExtractionException("the ioctl override table is empty");

    private static IoctlOverrides LoadBuiltIn()
    {
        using Stream stream = typeof(IoctlOverrides).Assembly.GetManifestResourceStream("ioctl-overrides.json")
            ?? throw new InvalidOperationException("ioctl-overrides.json is not embedded");
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

    public IoctlArgKind? Argument { get; init; }

    public string? Struct { get; init; }

    public IoctlDirection? Direction { get; init; }

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
