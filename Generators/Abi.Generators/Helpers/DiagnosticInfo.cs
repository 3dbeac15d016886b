using System;
using System.Globalization;
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

    /// <summary>A diagnostic at a header's line, given as the model writes locations (<c>linux/kvm.h:123</c>).</summary>
    public static DiagnosticInfo AtHeader(DiagnosticDescriptor descriptor, string location, params string[] arguments)
    {
        int colon = location.LastIndexOf(':');
        return colon > 0 && int.TryParse(location.Substring(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int line)
            ? Create(descriptor, location.Substring(0, colon), line, arguments)
            : Create(descriptor, location, 1, arguments);
    }

    public Diagnostic ToDiagnostic()
    {
        DiagnosticDescriptor descriptor = DiagnosticDescriptors.ById(Id);
        var position = new LinePosition(Math.Max(0, Line - 1), 0);
        Location location = Location.Create(FilePath, default, new LinePositionSpan(position, position));
        return Diagnostic.Create(descriptor, location, Arguments.AsSpan().ToArray());
    }
}
