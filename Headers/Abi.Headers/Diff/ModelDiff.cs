using System.Globalization;
using Abi.Model;

namespace Abi.Headers.Diff;

/// <summary>Compares two models symbol by symbol and classifies every change.</summary>
public static class ModelDiff
{
    public static IReadOnlyList<ModelChange> Compare(AbiModel before, AbiModel after)
    {
        var changes = new List<ModelChange>();
        CompareRecords(before, after, changes);
        CompareEnumConstants(before, after, changes);
        CompareMacros(before, after, changes);
        CompareIoctls(before, after, changes);
        return changes
            .OrderBy(c => c.Kind)
            .ThenBy(c => c.Symbol, StringComparer.Ordinal)
            .ThenBy(c => c.Detail, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The report: one line per change, then a count per kind.</summary>
    public static string Format(AbiModel before, AbiModel after, IReadOnlyList<ModelChange> changes)
    {
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# {before.Profile} ({before.Source.Version}) -> {after.Profile} ({after.Source.Version}), {after.Target.Triple}\n");
        foreach (ModelChange change in changes)
        {
            text.Append(change).Append('\n');
        }

        text.Append(CultureInfo.InvariantCulture, $"# {string.Join(", ", Enum.GetValues<ChangeKind>().Select(k => $"{changes.Count(c => c.Kind == k)} {k.ToString().ToLowerInvariant()}"))}\n");
        return text.ToString();
    }

    private static void CompareRecords(AbiModel before, AbiModel after, List<ModelChange> changes)
    {
        Dictionary<string, RecordDecl> old = before.Records.ToDictionary(r => r.Name, StringComparer.Ordinal);
        foreach (RecordDecl record in after.Records)
        {
            if (!old.Remove(record.Name, out RecordDecl? previous))
            {
                changes.Add(new(ChangeKind.Added, $"{Keyword(record)} {record.Name}", $"{record.Size} bytes"));
                continue;
            }

            CompareRecord(previous, record, changes);
        }

        foreach (RecordDecl removed in old.Values)
        {
            changes.Add(new(ChangeKind.Breaking, $"{Keyword(removed)} {removed.Name}", "removed"));
        }
    }

    private static void CompareRecord(RecordDecl before, RecordDecl after, List<ModelChange> changes)
    {
        string symbol = $"{Keyword(after)} {after.Name}";
        bool broken = false;
        Dictionary<string, FieldDecl> newFields = after.Fields.ToDictionary(f => f.Name, StringComparer.Ordinal);
        foreach (FieldDecl field in before.Fields)
        {
            if (!newFields.TryGetValue(field.Name, out FieldDecl? now))
            {
                changes.Add(new(ChangeKind.Breaking, symbol, $"field {field.Name}@{field.Offset} removed"));
                broken = true;
            }
            else if (now.Offset != field.Offset || now.BitOffset != field.BitOffset)
            {
                changes.Add(new(ChangeKind.Breaking, symbol, $"field {field.Name} moved {field.Offset} -> {now.Offset}"));
                broken = true;
            }
            else if (now.Size != field.Size || now.BitWidth != field.BitWidth || now.Type.Kind != field.Type.Kind || now.Type.IsFlexibleArray != field.Type.IsFlexibleArray)
            {
                changes.Add(new(ChangeKind.Breaking, symbol, $"field {field.Name} changed {Describe(field)} -> {Describe(now)}"));
                broken = true;
            }
            else if (now.Anonymous != field.Anonymous)
            {
                changes.Add(new(ChangeKind.Compatible, symbol,
                    $"field {field.Name}@{field.Offset} {(now.Anonymous is null ? "left its anonymous member" : $"now in anonymous {now.Anonymous}")}"));
            }
        }

        var oldNames = new HashSet<string>(before.Fields.Select(f => f.Name), StringComparer.Ordinal);
        List<FieldDecl> added = after.Fields.Where(f => !oldNames.Contains(f.Name)).ToList();
        if (after.Size < before.Size)
        {
            changes.Add(new(ChangeKind.Breaking, symbol, $"shrunk {before.Size} -> {after.Size} bytes"));
            return;
        }

        if (after.Size > before.Size)
        {
            bool extensible = before.Fields.Count > 0 && before.Fields[0].Name is "size" or "argsz";
            bool tailOnly = added.All(f => f.Offset >= before.Size || f.Anonymous is not null);
            string adds = added.Count == 0 ? string.Empty : ", adds " + string.Join(", ", added.Select(f => $"{f.Name}@{f.Offset}"));
            changes.Add(extensible && tailOnly && !broken
                ? new(ChangeKind.Grown, symbol, $"{before.Size} -> {after.Size} bytes{adds}")
                : new(ChangeKind.Breaking, symbol, $"grown {before.Size} -> {after.Size} bytes{(extensible ? string.Empty : " without a size/argsz field")}{adds}"));
            return;
        }

        foreach (FieldDecl field in added)
        {
            // Same size: a new member that overlays reserved space or joins a union.
            changes.Add(new(ChangeKind.Added, symbol, $"field {field.Name}@{field.Offset} ({Describe(field)}) within the old size"));
        }
    }

    private static void CompareEnumConstants(AbiModel before, AbiModel after, List<ModelChange> changes)
    {
        Dictionary<string, string> old = before.Enums.SelectMany(e => e.Constants).ToDictionary(c => c.Name, c => c.Value, StringComparer.Ordinal);
        foreach (EnumDecl decl in after.Enums)
        {
            foreach (EnumConstant constant in decl.Constants)
            {
                string symbol = $"enum {decl.Name ?? "(anonymous)"}.{constant.Name}";
                if (!old.Remove(constant.Name, out string? value))
                {
                    changes.Add(new(ChangeKind.Added, symbol, $"= {constant.Value}"));
                }
                else if (value != constant.Value)
                {
                    changes.Add(new(ChangeKind.Breaking, symbol, $"value changed {value} -> {constant.Value}"));
                }
            }
        }

        foreach (KeyValuePair<string, string> removed in old)
        {
            changes.Add(new(ChangeKind.Breaking, $"enum constant {removed.Key}", "removed"));
        }
    }

    private static void CompareMacros(AbiModel before, AbiModel after, List<ModelChange> changes)
    {
        Dictionary<string, MacroDecl> old = before.Macros.ToDictionary(m => m.Name, StringComparer.Ordinal);
        foreach (MacroDecl macro in after.Macros)
        {
            string symbol = $"#define {macro.Name}";
            if (!old.Remove(macro.Name, out MacroDecl? previous))
            {
                changes.Add(new(ChangeKind.Added, symbol, macro.Value is null ? macro.Kind.ToString().ToLowerInvariant() : $"= {macro.Value}"));
            }
            else if (previous.Value != macro.Value || previous.Kind != macro.Kind)
            {
                changes.Add(new(ChangeKind.Breaking, symbol, $"changed {previous.Value ?? previous.Body} -> {macro.Value ?? macro.Body}"));
            }
            else if (previous.CType != macro.CType)
            {
                changes.Add(new(ChangeKind.Compatible, symbol, $"type {previous.CType} -> {macro.CType}, same value"));
            }
        }

        foreach (MacroDecl removed in old.Values)
        {
            changes.Add(new(ChangeKind.Breaking, $"#define {removed.Name}", "removed"));
        }
    }

    private static void CompareIoctls(AbiModel before, AbiModel after, List<ModelChange> changes)
    {
        Dictionary<string, IoctlDecl> old = before.Ioctls.ToDictionary(i => i.Name, StringComparer.Ordinal);
        foreach (IoctlDecl ioctl in after.Ioctls)
        {
            string symbol = $"ioctl {ioctl.Name}";
            if (!old.Remove(ioctl.Name, out IoctlDecl? previous))
            {
                changes.Add(new(ChangeKind.Added, symbol, $"0x{ioctl.Request:X} on {ioctl.FdKind.ToString().ToLowerInvariant()}{(ioctl.Struct is null ? string.Empty : $", struct {ioctl.Struct}")}"));
                continue;
            }

            if (previous.Request != ioctl.Request || previous.FdKind != ioctl.FdKind || previous.Struct != ioctl.Struct || previous.Argument != ioctl.Argument)
            {
                changes.Add(new(ChangeKind.Breaking, symbol, $"0x{previous.Request:X} {previous.Struct} -> 0x{ioctl.Request:X} {ioctl.Struct}"));
            }
        }

        foreach (IoctlDecl removed in old.Values)
        {
            changes.Add(new(ChangeKind.Breaking, $"ioctl {removed.Name}", "removed"));
        }
    }

    private static string Keyword(RecordDecl record) => record.Kind == RecordKind.Union ? "union" : "struct";

    private static string Describe(FieldDecl field) =>
        $"{field.Type.Spelling}, {field.Size} bytes";
}
