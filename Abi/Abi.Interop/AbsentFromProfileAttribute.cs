namespace Abi.Interop;

/// <summary>Marks a generated member that an older kernel ABI profile does not have, so code meant for that kernel can avoid it.</summary>
[AttributeUsage(AttributeTargets.All, AllowMultiple = false, Inherited = false)]
public sealed class AbsentFromProfileAttribute(string profile) : Attribute
{
    /// <summary>The profile that lacks the member, e.g. <c>6.12</c>.</summary>
    public string Profile { get; } = profile;
}
