namespace Abi.Model;

/// <summary>One thing a header contains that the model does not describe exactly, and why.</summary>
public sealed record ExtractionNote
{
    /// <summary>What happened to it.</summary>
    public required ExtractionNoteKind Kind { get; init; }

    /// <summary>Where it is declared, as <c>linux/kvm.h:123</c>.</summary>
    public required string Location { get; init; }

    /// <summary>The declaration (<c>struct kvm_x.field</c>, <c>#define NAME</c>).</summary>
    public required string Subject { get; init; }

    /// <summary>The construct and the reason, in one sentence.</summary>
    public required string Reason { get; init; }
}
