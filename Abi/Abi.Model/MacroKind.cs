namespace Abi.Model;

/// <summary>What a <c>#define</c> turned out to be.</summary>
public enum MacroKind
{
    /// <summary>An object-like macro that evaluates to an integer constant.</summary>
    Integer,

    /// <summary>An object-like macro that evaluates to a string literal.</summary>
    String,

    /// <summary>An object-like macro that evaluates to a floating-point constant (<see cref="MacroDecl.Value"/> in round-trip form).</summary>
    Float,

    /// <summary>A function-like macro; recorded with its parameters and body, never evaluated.</summary>
    FunctionLike,

    /// <summary>An object-like macro with no body (include guards).</summary>
    Empty,

    /// <summary>An object-like macro clang could not evaluate to a constant (a type, an attribute).</summary>
    Other,
}
