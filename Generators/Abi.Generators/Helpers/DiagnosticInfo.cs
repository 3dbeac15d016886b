using System;
using Abi.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Abi.Generators.Helpers;

/// <summary>
/// A diagnostic as plain data, so that pipeline values stay equatable and hold no Roslyn
/// <see cref="Location"/> (whose equality would defeat caching).
/// </summary>
internal sealed record DiagnosticInfo
{
    public required string Id { get; init; }

    public required string FilePath { get; init; }

    public required int Line { get; init; }

    public required EquatableArray<string> Arguments { get; init; }

    public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, string filePath, int line, params string[] arguments) => new()
    {
        Id = descriptor.Id,
        FilePath = filePath,
        Line = line,
        Arguments = new EquatableArray<string>(arguments),
    };

    public Diagnostic ToDiagnostic()
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(Id);
        var position = new LinePosition(Math.Max(0, Line - 1), 0);
        Location location = Location.Create(FilePath, default, new LinePositionSpan(position, position));
        return Diagnostic.Create(descriptor, location, Arguments.AsSpan().ToArray());
    }
}
