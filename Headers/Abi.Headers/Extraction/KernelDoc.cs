using System.Text;
using System.Text.RegularExpressions;
using Abi.Model;

namespace Abi.Headers.Extraction;

/// <summary>
/// A kernel-doc comment (<c>/** name - summary</c>, <c>@member: text</c> lines, then free text),
/// parsed from the raw comment. libclang's brief-comment API treats <c>@member</c> as a Doxygen
/// command and mangles it, so the raw text is parsed here instead.
/// </summary>
internal sealed partial class KernelDoc
{
    private readonly Dictionary<string, string> _members;

    private KernelDoc(string title, string summary, Dictionary<string, string> members, string? description)
    {
        Title = title;
        Summary = summary;
        _members = members;
        Description = description;
    }

    /// <summary>What the first line names, e.g. <c>struct iommu_ioas_map</c> or <c>VFIO_DEVICE_GET_INFO</c>.</summary>
    public string Title { get; }

    /// <summary>The text after the dash on the first line.</summary>
    public string Summary { get; }

    /// <summary>The free text after the member list.</summary>
    public string? Description { get; }

    public IReadOnlyDictionary<string, string> Members => _members;

    public string? MemberText(string name) => _members.TryGetValue(name, out string? text) ? text : null;

    public DocComment ToDocComment() => new() { Summary = Summary, Description = Description };

    /// <summary>
    /// Parses a <c>/** */</c> comment; null for anything else, since an ordinary comment is not
    /// kernel-doc. With <paramref name="anyComment"/>, a <c>/* */</c> comment in kernel-doc form is
    /// accepted too (vfio.h documents some ioctls that way).
    /// </summary>
    public static KernelDoc? Parse(string raw, bool anyComment = false)
    {
        bool docMarker = raw.StartsWith("/**", StringComparison.Ordinal) && !raw.StartsWith("/**/", StringComparison.Ordinal);
        if (!docMarker && !(anyComment && raw.StartsWith("/*", StringComparison.Ordinal)))
        {
            return null;
        }

        List<string> lines = BodyLines(raw);
        int first = lines.FindIndex(l => l.Length > 0);
        if (first < 0)
        {
            return null;
        }

        // The title line may wrap (VFIO's "VFIO_X - _IOR(VFIO_TYPE, VFIO_BASE + 7,\n struct y)").
        var titleText = new StringBuilder(lines[first]);
        int i = first + 1;
        while (i < lines.Count && lines[i].Length > 0 && !lines[i].StartsWith('@') && Unbalanced(titleText.ToString()))
        {
            titleText.Append(' ').Append(lines[i]);
            i++;
        }

        string titleLine = Collapse(titleText.ToString());
        int dash = titleLine.IndexOf(" - ", StringComparison.Ordinal);
        string title = dash >= 0 ? titleLine[..dash].Trim() : titleLine;
        string summary = dash >= 0 ? titleLine[(dash + 3)..].Trim() : string.Empty;

        var members = new Dictionary<string, string>(StringComparer.Ordinal);
        var description = new List<string>();
        var paragraph = new StringBuilder();
        string? member = null;
        for (; i < lines.Count; i++)
        {
            string line = lines[i];
            Match m = MemberLine().Match(line);
            if (m.Success)
            {
                Flush();
                member = m.Groups[1].Value;
                paragraph.Append(m.Groups[2].Value);
            }
            else if (line.Length == 0)
            {
                Flush();
                member = null;
            }
            else
            {
                if (paragraph.Length > 0)
                {
                    paragraph.Append('\n');
                }

                paragraph.Append(member is null ? line : line.Trim());
            }
        }

        Flush();
        return new KernelDoc(title, summary, members, description.Count == 0 ? null : string.Join("\n\n", description));

        void Flush()
        {
            if (paragraph.Length == 0)
            {
                return;
            }

            string text = paragraph.ToString().Trim();
            if (member is not null)
            {
                members[member] = members.TryGetValue(member, out string? before) ? before + "\n" + text : Collapse(text);
            }
            else
            {
                description.Add(text);
            }

            paragraph.Clear();
        }
    }

    /// <summary>The text of an ordinary comment (<c>/* Identifies capability */</c>), or null.</summary>
    public static string? PlainText(string raw)
    {
        if (raw.Length == 0)
        {
            return null;
        }

        string text = raw.StartsWith("//", StringComparison.Ordinal)
            ? string.Join(" ", raw.Split('\n').Select(l => l.Trim().TrimStart('/').Trim()))
            : Collapse(string.Join(" ", BodyLines(raw)));
        return text.Length == 0 ? null : text;
    }

    /// <summary>The lines between <c>/*</c> and <c>*/</c>, each without its leading <c> * </c>; trailing blank lines dropped.</summary>
    private static List<string> BodyLines(string raw)
    {
        string body = raw.TrimStart('/').TrimStart('*');
        if (body.EndsWith("*/", StringComparison.Ordinal))
        {
            body = body[..^2];
        }

        var lines = new List<string>();
        foreach (string rawLine in body.Replace("\r", string.Empty, StringComparison.Ordinal).Split('\n'))
        {
            string line = rawLine.TrimEnd();
            string trimmed = line.TrimStart();
            if (trimmed.StartsWith('*'))
            {
                trimmed = trimmed[1..];
                // Keep indentation beyond the single space after the star: it is code or a list.
                line = trimmed.StartsWith(' ') ? trimmed[1..] : trimmed;
            }
            else
            {
                line = trimmed;
            }

            lines.Add(line.Replace('\t', ' ').TrimEnd());
        }

        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        return lines;
    }

    private static bool Unbalanced(string text) => text.Count(c => c == '(') > text.Count(c => c == ')');

    private static string Collapse(string text) => Whitespace().Replace(text, " ").Trim();

    [GeneratedRegex(@"^@([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")]
    private static partial Regex MemberLine();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
