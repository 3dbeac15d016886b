using System;
using System.Collections.Generic;
using System.Linq;
using Abi.Generators.Model;
using Abi.Model;

namespace Abi.Generators.Helpers;

/// <summary>
/// Several primary models in one namespace (two <c>&lt;AbiHeader&gt;</c> items without a namespace of
/// their own, or headers that both pull in <c>struct timeval</c>) become one: every declaration once.
/// One name declared twice with different contents is a conflict (ABI0004), reported at the later
/// model and left out of it; the rest of both is generated.
/// </summary>
internal static class ModelMerger
{
    public static (ParsedModel Merged, EquatableArray<IoctlType> OtherTypes) Merge(List<ParsedModel> primaries, List<DiagnosticInfo> diagnostics)
    {
        ParsedModel first = primaries[0];
        var records = new Dictionary<string, (RecordDecl Decl, string File)>(StringComparer.Ordinal);
        var enums = new Dictionary<string, (EnumDecl Decl, string File)>(StringComparer.Ordinal);
        var anonymousEnums = new List<EnumDecl>();
        var macros = new Dictionary<string, (MacroDecl Decl, string File)>(StringComparer.Ordinal);
        var ioctls = new Dictionary<string, (IoctlDecl Decl, string File)>(StringComparer.Ordinal);
        var otherTypes = new List<IoctlType>();
        var notes = new List<ExtractionNote>();
        var headers = new List<string>();
        foreach (ParsedModel model in primaries)
        {
            headers.AddRange(model.Model.Headers.Where(h => !headers.Contains(h)));
            notes.AddRange(model.Model.Notes.Where(n => !notes.Contains(n)));
            foreach (RecordDecl record in model.Model.Records)
            {
                Add(records, record.Name, record, model.FilePath, SameLayout, diagnostics, "struct " + record.Name, first.Namespace);
            }

            foreach (EnumDecl decl in model.Model.Enums)
            {
                if (decl.Name is null)
                {
                    anonymousEnums.Add(decl);
                }
                else
                {
                    Add(enums, decl.Name, decl, model.FilePath, (a, b) => a.Constants.Select(c => (c.Name, c.Value)).SequenceEqual(b.Constants.Select(c => (c.Name, c.Value))), diagnostics, "enum " + decl.Name, first.Namespace);
                }
            }

            foreach (MacroDecl macro in model.Model.Macros)
            {
                Add(macros, macro.Name, macro, model.FilePath, (a, b) => a.Kind == b.Kind && a.Value == b.Value && a.Body == b.Body, diagnostics, "#define " + macro.Name, first.Namespace);
            }

            foreach (IoctlDecl ioctl in model.Model.Ioctls)
            {
                if (Add(ioctls, ioctl.Name, ioctl, model.FilePath, (a, b) => a.Request == b.Request && a.Argument == b.Argument && a.Struct == b.Struct, diagnostics, "ioctl " + ioctl.Name, first.Namespace)
                    && ioctl.FdKind == FdKind.Other)
                {
                    otherTypes.Add(new IoctlType(ioctl.Name, model.OtherIoctlsType));
                }
            }
        }

        // An anonymous enum's constants once, however many headers declared it.
        var constants = new HashSet<string>(StringComparer.Ordinal);
        List<EnumDecl> anonymous = anonymousEnums
            .Select(e => e with { Constants = e.Constants.Where(c => constants.Add(c.Name)).ToEquatableArray() })
            .Where(e => e.Constants.Count > 0)
            .ToList();

        AbiModel merged = first.Model with
        {
            Headers = headers.ToEquatableArray(),
            Records = records.Values.Select(v => v.Decl).OrderBy(r => r.Name, StringComparer.Ordinal).ToEquatableArray(),
            Enums = enums.Values.Select(v => v.Decl).Concat(anonymous).ToEquatableArray(),
            Macros = macros.Values.Select(v => v.Decl).OrderBy(m => m.Name, StringComparer.Ordinal).ToEquatableArray(),
            Ioctls = ioctls.Values.Select(v => v.Decl).OrderBy(i => i.Name, StringComparer.Ordinal).ToEquatableArray(),
            Notes = notes.ToEquatableArray(),
        };
        return (first with { Model = merged }, otherTypes.ToEquatableArray());
    }

    private static bool Add<T>(Dictionary<string, (T Decl, string File)> into, string name, T decl, string file, Func<T, T, bool> same, List<DiagnosticInfo> diagnostics, string what, string ns)
    {
        if (!into.TryGetValue(name, out (T Decl, string File) existing))
        {
            into[name] = (decl, file);
            return true;
        }

        if (!same(existing.Decl, decl))
        {
            diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateModel, file, 1, what, existing.File, file, ns));
        }

        return false;
    }

    private static bool SameLayout(RecordDecl a, RecordDecl b) =>
        a.Kind == b.Kind && a.Size == b.Size && a.Alignment == b.Alignment
        && a.Fields.Select(f => (f.Name, f.Offset, f.Size, f.Type, f.BitOffset, f.BitWidth)).SequenceEqual(b.Fields.Select(f => (f.Name, f.Offset, f.Size, f.Type, f.BitOffset, f.BitWidth)));
}
