using System.Collections.Generic;
using System.Linq;
using System.Text;
using Microsoft.CodeAnalysis.CSharp;

namespace Abi.Generators.Helpers;

/// <summary>Names: native names are kept (escaped where they are C# keywords); wrappers get .NET names.</summary>
internal static class Naming
{
    /// <summary>A C identifier usable in C#: <c>@</c>-escaped if it is a reserved keyword.</summary>
    public static string Identifier(string name) =>
        SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

    /// <summary><c>IOAS_MAP</c> and <c>group_fds</c> become <c>IoasMap</c> and <c>GroupFds</c>.</summary>
    public static string Pascal(string snake)
    {
        var text = new StringBuilder(snake.Length);
        foreach (string part in snake.Split('_').Where(p => p.Length > 0))
        {
            text.Append(char.ToUpperInvariant(part[0]));
            text.Append(part.Substring(1).ToLowerInvariant());
        }

        string result = text.ToString();
        return result.Length == 0 || char.IsDigit(result[0]) ? "_" + result : result;
    }

    /// <summary>The longest prefix ending in '_' shared by all names; for one name, its first segment.</summary>
    public static string CommonPrefix(IReadOnlyList<string> names)
    {
        if (names.Count == 0)
        {
            return string.Empty;
        }

        if (names.Count == 1)
        {
            int first = names[0].IndexOf('_');
            return first < 0 ? string.Empty : names[0].Substring(0, first + 1);
        }

        string prefix = names[0];
        foreach (string name in names)
        {
            int i = 0;
            while (i < prefix.Length && i < name.Length && prefix[i] == name[i])
            {
                i++;
            }

            prefix = prefix.Substring(0, i);
        }

        int cut = prefix.LastIndexOf('_');
        return cut < 0 ? string.Empty : prefix.Substring(0, cut + 1);
    }

    /// <summary>Escapes text for an XML doc comment and prefixes every line with <c>///</c>.</summary>
    public static IEnumerable<string> DocLines(string tag, string text)
    {
        string escaped = text.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
        string[] lines = escaped.Split('\n');
        if (lines.Length == 1)
        {
            yield return $"/// <{tag}>{lines[0].Trim()}</{tag}>";
            yield break;
        }

        yield return $"/// <{tag}>";
        foreach (string line in lines)
        {
            yield return line.Trim().Length == 0 ? "/// <para/>" : "/// " + line.TrimEnd();
        }

        yield return $"/// </{tag}>";
    }
}
