namespace Abi.Model;

/// <summary>
/// The ABI of one set of UAPI headers for one kernel profile and target, as extracted by libclang:
/// every record with its exact layout, every enum, every macro (evaluated where it can be) and the
/// ioctl table. Instances are immutable and compare structurally.
/// </summary>
public sealed record AbiModel
{
    /// <summary>The version of this file format. Readers refuse versions they do not know.</summary>
    public required int SchemaVersion { get; init; }

    /// <summary>The kernel profile name, e.g. <c>7.2</c>.</summary>
    public required string Profile { get; init; }

    /// <summary>Where the headers came from.</summary>
    public required HeaderSource Source { get; init; }

    /// <summary>The target the layouts and numbers were computed for.</summary>
    public required TargetInfo Target { get; init; }

    /// <summary>The headers this model describes, as include paths (<c>linux/vfio.h</c>).</summary>
    public required EquatableArray<string> Headers { get; init; }

    /// <summary>
    /// Headers included with <see cref="Headers"/> (the prelude before them; those declaring types
    /// that ioctl overrides name after them): a C file reproducing the model includes them too.
    /// </summary>
    public EquatableArray<string> Prelude { get; init; } = EquatableArray<string>.Empty;

    /// <summary>Structs and unions, by name.</summary>
    public required EquatableArray<RecordDecl> Records { get; init; }

    /// <summary>Enums, named and anonymous, in header order.</summary>
    public required EquatableArray<EnumDecl> Enums { get; init; }

    /// <summary>Every <c>#define</c> of the headers, by name.</summary>
    public required EquatableArray<MacroDecl> Macros { get; init; }

    /// <summary>The ioctl table, by name.</summary>
    public required EquatableArray<IoctlDecl> Ioctls { get; init; }

    /// <summary>
    /// What the extraction could not describe exactly, each with the C file and line: declarations
    /// skipped and members stored as opaque bytes. Empty for a header that is fully represented.
    /// </summary>
    public EquatableArray<ExtractionNote> Notes { get; init; } = EquatableArray<ExtractionNote>.Empty;

    /// <summary>The current <see cref="SchemaVersion"/>.</summary>
    public const int CurrentSchemaVersion = 2;
}
