namespace Abi.Model;

/// <summary>What the extraction did with a construct it cannot describe exactly.</summary>
public enum ExtractionNoteKind
{
    /// <summary>Left out of the model (and so out of the bindings).</summary>
    Skipped,

    /// <summary>Kept with its exact size and offset, as bytes (<c>long double</c>, <c>__int128</c>).</summary>
    Opaque,
}
