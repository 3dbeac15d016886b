namespace Abi.Headers.Diff;

/// <summary>How a change between two models affects existing binaries.</summary>
public enum ChangeKind
{
    /// <summary>A new symbol: a record, field, enum constant, macro or ioctl that did not exist.</summary>
    Added,

    /// <summary>An extensible struct (first field <c>size</c> or <c>argsz</c>) grew at its tail; old callers keep working.</summary>
    Grown,

    /// <summary>A change that keeps every size, offset and number (a doc, a member moved into an anonymous union at the same offset).</summary>
    Compatible,

    /// <summary>A moved or resized field, a shrunk struct, a removed symbol or a changed number.</summary>
    Breaking,
}
