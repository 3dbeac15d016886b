namespace Abi.Headers.Diff;

/// <summary>One classified difference between two models.</summary>
public sealed record ModelChange(ChangeKind Kind, string Symbol, string Detail)
{
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant(),-10} {Symbol}: {Detail}";
}
