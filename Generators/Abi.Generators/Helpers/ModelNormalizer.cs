using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Abi.Model;

namespace Abi.Generators.Helpers;

/// <summary>
/// Makes a model's C names valid together as C# names, renaming by one documented rule (README,
/// "Names") and reporting each rename (ABI0103). C keeps tags, members, enum constants and macros in
/// separate namespaces; C# does not:
/// <list type="bullet">
/// <item>an enum whose tag is also a record's name (a typedef of an untagged struct) becomes <c>tag_enum</c>;</item>
/// <item>a type named like a generated type (<c>Constants</c>, the ioctl wrappers) gets a trailing <c>_</c>;</item>
/// <item>a member named like its enclosing type gets a trailing <c>_</c> (CS0542);</item>
/// <item>a macro with the name of an anonymous enum's member is dropped when it has the same value
/// (the <c>#define X X</c> idiom) and becomes <c>NAME_MACRO</c> otherwise.</item>
/// </list>
/// Where a new name is taken too, a number is appended. A member named like a member every C# struct
/// has (<c>ToString</c>, <c>Equals</c>, ...) or like the generated <c>FromBuffer</c> gets a trailing
/// <c>_</c> too (CS0108).
/// <para>
/// Members C# cannot hold are left out, each reported (ABI0101) at its record's line: a member of no
/// bytes that is not the flexible array at the end (a zero-length array, a record of size 0: a C#
/// field has at least one byte, and would move or grow what follows), and a bitfield that no integer
/// inside the record holds (<see cref="BitfieldStorage"/>).
/// </para>
/// </summary>
internal static class ModelNormalizer
{
    public static AbiModel Normalize(AbiModel model, IReadOnlyCollection<string> reservedTypeNames, List<DiagnosticInfo> diagnostics)
    {
        var taken = new HashSet<string>(model.Records.Select(r => r.Name), StringComparer.Ordinal);
        taken.UnionWith(reservedTypeNames);
        var recordRenames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (RecordDecl record in model.Records)
        {
            if (reservedTypeNames.Contains(record.Name))
            {
                recordRenames[record.Name] = Fresh(record.Name + "_", taken);
                Renamed(diagnostics, record.Location, $"struct {record.Name}", recordRenames[record.Name], "a generated type has this name");
            }
        }

        var enumRenames = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (EnumDecl decl in model.Enums)
        {
            if (decl.Name is string name && taken.Contains(name) && !enumRenames.ContainsKey(name))
            {
                enumRenames[name] = Fresh(name + "_enum", taken);
                Renamed(diagnostics, decl.Location, $"enum {name}", enumRenames[name], "a struct, union or typedef has this name too");
            }
            else if (decl.Name is string other)
            {
                taken.Add(other);
            }
        }

        EquatableArray<RecordDecl> records = model.Records
            .Select(r => RenameRecord(Representable(r, diagnostics), recordRenames, enumRenames, diagnostics))
            .ToEquatableArray();
        EquatableArray<EnumDecl> enums = model.Enums.Select(e => RenameEnum(e, enumRenames, diagnostics)).ToEquatableArray();
        EquatableArray<MacroDecl> macros = RenameMacros(model, diagnostics);
        EquatableArray<IoctlDecl> ioctls = model.Ioctls
            .Select(i => i with
            {
                Struct = i.Struct is string s && recordRenames.TryGetValue(s, out string? n) ? n : i.Struct,
                ArgumentType = i.ArgumentType is null ? null : Retype(i.ArgumentType, recordRenames, enumRenames),
            })
            .ToEquatableArray();
        return model with { Records = records, Enums = enums, Macros = macros, Ioctls = ioctls };
    }

    // Members every C# struct has (object's and ValueType's) and the helper generated for flexible arrays.
    private static readonly HashSet<string> s_inheritedMembers = new(StringComparer.Ordinal)
    {
        "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "Finalize", "ReferenceEquals", "FromBuffer",
    };

    private static RecordDecl Representable(RecordDecl record, List<DiagnosticInfo> diagnostics)
    {
        if (record.Fields.All(f => Holds(record, f)))
        {
            return record;
        }

        var kept = new List<FieldDecl>(record.Fields.Count);
        foreach (FieldDecl field in record.Fields)
        {
            if (Holds(record, field))
            {
                kept.Add(field);
            }
            else
            {
                string why = field.BitWidth is int width
                    ? FormattableString.Invariant($"its {width} bits at bit {field.BitOffset} fit in no 1-, 2-, 4- or 8-byte integer inside the {record.Size}-byte record")
                    : "it occupies no bytes (a zero-length array, or a record of size 0), and a C# field has at least one";
                diagnostics.Add(DiagnosticInfo.AtHeader(DiagnosticDescriptors.Skipped, record.Location, $"{record.Name}.{field.Name}", why));
            }
        }

        return record with { Fields = kept.ToEquatableArray() };
    }

    private static bool Holds(RecordDecl record, FieldDecl field) => field.BitWidth is not null
        ? BitfieldStorage.TryPlace(field, record.Size, out _, out _)
        : field.Size > 0 || field.Type.IsFlexibleArray;

    private static RecordDecl RenameRecord(RecordDecl record, Dictionary<string, string> recordRenames, Dictionary<string, string> enumRenames, List<DiagnosticInfo> diagnostics)
    {
        string name = recordRenames.TryGetValue(record.Name, out string? renamed) ? renamed : record.Name;
        var members = new HashSet<string>(record.Fields.Select(f => f.Name), StringComparer.Ordinal);
        var fields = new List<FieldDecl>(record.Fields.Count);
        foreach (FieldDecl field in record.Fields)
        {
            string fieldName = field.Name;
            if (fieldName == name)
            {
                fieldName = Fresh(fieldName + "_", members);
                Renamed(diagnostics, record.Location, $"{record.Name}.{field.Name}", fieldName, "a C# member cannot have its type's name");
            }
            else if (s_inheritedMembers.Contains(fieldName))
            {
                fieldName = Fresh(fieldName + "_", members);
                Renamed(diagnostics, record.Location, $"{record.Name}.{field.Name}", fieldName, "every C# struct has a member of this name");
            }

            fields.Add(field with { Name = fieldName, Type = Retype(field.Type, recordRenames, enumRenames) });
        }

        return record with { Name = name, Fields = fields.ToEquatableArray() };
    }

    private static EnumDecl RenameEnum(EnumDecl decl, Dictionary<string, string> enumRenames, List<DiagnosticInfo> diagnostics)
    {
        if (decl.Name is null)
        {
            return decl;
        }

        string name = enumRenames.TryGetValue(decl.Name, out string? renamed) ? renamed : decl.Name;
        var members = new HashSet<string>(decl.Constants.Select(c => c.Name), StringComparer.Ordinal);
        EquatableArray<EnumConstant> constants = decl.Constants
            .Select(c =>
            {
                if (c.Name != name)
                {
                    return c;
                }

                string fresh = Fresh(c.Name + "_", members);
                Renamed(diagnostics, decl.Location, c.Name, fresh, "a C# member cannot have its type's name");
                return c with { Name = fresh };
            })
            .ToEquatableArray();
        return decl with { Name = name, Constants = constants };
    }

    private static EquatableArray<MacroDecl> RenameMacros(AbiModel model, List<DiagnosticInfo> diagnostics)
    {
        var enumValues = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (EnumDecl decl in model.Enums.Where(e => e.Name is null))
        {
            foreach (EnumConstant constant in decl.Constants)
            {
                enumValues[constant.Name] = constant.Value;
            }
        }

        var taken = new HashSet<string>(model.Macros.Select(m => m.Name), StringComparer.Ordinal);
        taken.UnionWith(enumValues.Keys);
        taken.Add("Constants");
        var macros = new List<MacroDecl>(model.Macros.Count);
        foreach (MacroDecl macro in model.Macros)
        {
            bool clash = enumValues.TryGetValue(macro.Name, out string? value);
            if (macro.Name == "Constants" || clash)
            {
                if (clash && macro.Kind == MacroKind.Integer && macro.Value == value)
                {
                    continue;
                }

                if (macro.Kind is MacroKind.Integer or MacroKind.String or MacroKind.Float)
                {
                    string fresh = Fresh(macro.Name + "_MACRO", taken);
                    Renamed(diagnostics, macro.Location, "#define " + macro.Name, fresh, clash ? "an anonymous enum's member has this name and another value" : "the constants class has this name");
                    macros.Add(macro with { Name = fresh });
                    continue;
                }
            }

            macros.Add(macro);
        }

        return macros.ToEquatableArray();
    }

    private static TypeRef Retype(TypeRef type, Dictionary<string, string> recordRenames, Dictionary<string, string> enumRenames) => type.Kind switch
    {
        TypeKind.Record when type.Name is string n && recordRenames.TryGetValue(n, out string? r) => type with { Name = r },
        TypeKind.Enum when type.Name is string n && enumRenames.TryGetValue(n, out string? r) => type with { Name = r },
        _ => type,
    };

    private static string Fresh(string wanted, HashSet<string> taken)
    {
        string name = wanted;
        for (int n = 2; taken.Contains(name); n++)
        {
            name = wanted + n.ToString(CultureInfo.InvariantCulture);
        }

        taken.Add(name);
        return name;
    }

    private static void Renamed(List<DiagnosticInfo> diagnostics, string location, string what, string newName, string why) =>
        diagnostics.Add(DiagnosticInfo.AtHeader(DiagnosticDescriptors.Renamed, location, what, newName, why));
}
