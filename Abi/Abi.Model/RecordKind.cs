namespace Abi.Model;

/// <summary>Whether a record is a C struct or a C union.</summary>
public enum RecordKind
{
    /// <summary>A <c>struct</c>.</summary>
    Struct,

    /// <summary>A <c>union</c>.</summary>
    Union,
}
