using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>
/// What the primary model has that its baseline lacks, by symbol key (<c>struct:name</c>,
/// <c>field:struct.name</c>, <c>const:NAME</c>, <c>ioctl:NAME</c>). Empty when there is no baseline.
/// </summary>
internal sealed record ProfileDelta(string? BaselineProfile, EquatableArray<string> NewSymbols)
{
    public static ProfileDelta None { get; } = new(null, EquatableArray<string>.Empty);

    public bool IsNew(string key) => BaselineProfile is not null && NewSymbols.Contains(key);
}
