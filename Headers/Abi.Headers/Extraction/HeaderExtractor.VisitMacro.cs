using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    /// <summary>Every <c>#define</c> of the requested headers, object-like ones evaluated by clang.</summary>
    private (List<MacroDecl> Macros, int PointerSize) VisitMacros()
    {
        var definitions = new List<MacroDefinition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach ((CXCursor cursor, string location) in _macroCursors)
        {
            List<string> tokens = Libclang.TokensOf(cursor);
            string name = cursor.Spelling;
            if (tokens.Count == 0 || tokens[0] != name || !seen.Add(name))
            {
                continue;
            }

            if (cursor.IsMacroFunctionLike)
            {
                int close = tokens.IndexOf(")");
                List<string> parameters = tokens.Skip(2).Take(close - 2).Where(t => t != ",").ToList();
                definitions.Add(new MacroDefinition(name, location, IsFunctionLike: true, parameters, tokens.Skip(close + 1).ToList()));
            }
            else
            {
                definitions.Add(new MacroDefinition(name, location, IsFunctionLike: false, [], tokens.Skip(1).ToList()));
            }
        }

        MacroEvaluator.Result evaluated = new MacroEvaluator(this).Evaluate(definitions);
        var macros = new List<MacroDecl>(definitions.Count);
        foreach (MacroDefinition definition in definitions)
        {
            string body = string.Join(" ", definition.Body);
            if (definition.IsFunctionLike)
            {
                macros.Add(new MacroDecl
                {
                    Name = definition.Name,
                    Location = definition.Location,
                    Kind = MacroKind.FunctionLike,
                    Body = body,
                    Parameters = definition.Parameters.ToEquatableArray(),
                });
            }
            else if (definition.Body.Count == 0)
            {
                macros.Add(new MacroDecl { Name = definition.Name, Location = definition.Location, Kind = MacroKind.Empty, Body = body });
            }
            else if (evaluated.Values.TryGetValue(definition.Name, out MacroEvaluator.Value value))
            {
                macros.Add(new MacroDecl
                {
                    Name = definition.Name,
                    Location = definition.Location,
                    Kind = value.IsString ? MacroKind.String : value.IsFloat ? MacroKind.Float : MacroKind.Integer,
                    Body = body,
                    CType = value.CType,
                    IsSigned = value.IsString || value.IsFloat ? null : value.IsSigned,
                    Value = value.Text,
                });
            }
            else
            {
                macros.Add(new MacroDecl { Name = definition.Name, Location = definition.Location, Kind = MacroKind.Other, Body = body });
            }
        }

        return (macros, evaluated.PointerSize);
    }

    /// <summary>A macro as tokenized from its definition.</summary>
    internal sealed record MacroDefinition(string Name, string Location, bool IsFunctionLike, List<string> Parameters, List<string> Body);
}
