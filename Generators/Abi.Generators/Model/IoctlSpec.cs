using Abi.Model;

namespace Abi.Generators.Model;

/// <summary>One ioctl wrapper, with what the emitter needs to know of its argument struct.</summary>
internal sealed record IoctlSpec(
    IoctlDecl Ioctl,
    string MethodName,
    string? SizeField,
    bool HasFlexibleArray,
    bool HasCapabilities,
    string? AbsentFrom);
