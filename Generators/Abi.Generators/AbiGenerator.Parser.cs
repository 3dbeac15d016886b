using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using Abi.Generators.Helpers;
using Abi.Generators.Model;
using Abi.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using TypeKind = Abi.Model.TypeKind;

namespace Abi.Generators;

public sealed partial class AbiGenerator
{
    /// <summary>Everything between a model file and the specs the emitter turns into source.</summary>
    internal static class Parser
    {
        public static ModelInput ReadInput(AdditionalText file, AnalyzerConfigOptions options, AnalyzerConfigOptions global, CancellationToken ct)
        {
            string text = file.GetText(ct)?.ToString() ?? string.Empty;
            string ns = Metadata(options, "AbiNamespace")
                ?? (global.TryGetValue("build_property.RootNamespace", out string? root) && root.Length > 0 ? root : "Abi.Bindings");
            ModelRole role = string.Equals(Metadata(options, "AbiRole"), "baseline", StringComparison.OrdinalIgnoreCase) ? ModelRole.Baseline : ModelRole.Primary;
            string other = Metadata(options, "AbiOtherIoctlsType") ?? "OtherIoctls";
            return new ModelInput(file.Path, text, ns, role, other);
        }

        public static Result<ParsedModel> Parse(ModelInput input, CancellationToken ct)
        {
            AbiModel model;
            try
            {
                model = AbiModelSerializer.Deserialize(Encoding.UTF8.GetBytes(input.Text));
            }
            catch (FormatException e)
            {
                int line = e.InnerException is JsonException json && json.LineNumber is long l ? (int)l + 1 : 1;
                return Failed(DiagnosticInfo.Create(DiagnosticDescriptors.InvalidModel, input.FilePath, line, input.FilePath, e.Message));
            }

            ct.ThrowIfCancellationRequested();
            var diagnostics = new List<DiagnosticInfo>();
            foreach (ExtractionNote note in model.Notes)
            {
                DiagnosticDescriptor descriptor = note.Kind == ExtractionNoteKind.Opaque ? DiagnosticDescriptors.Opaque : DiagnosticDescriptors.Skipped;
                diagnostics.Add(DiagnosticInfo.AtHeader(descriptor, note.Location, note.Subject, note.Reason));
            }

            model = ModelNormalizer.Normalize(model, GeneratedTypeNames(input.OtherIoctlsType).ToList(), diagnostics);
            var records = new HashSet<string>(model.Records.Select(r => r.Name), StringComparer.Ordinal);
            foreach (IoctlDecl ioctl in model.Ioctls)
            {
                if (ioctl.Argument == IoctlArgKind.Struct && (ioctl.Struct is null || !records.Contains(ioctl.Struct)))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownRecord, input.FilePath, 1, ioctl.Name, ioctl.Struct ?? "(none)"));
                }
            }

            foreach (RecordDecl record in model.Records)
            {
                foreach (FieldDecl field in record.Fields)
                {
                    if (field.Type.Kind == TypeKind.Record && !records.Contains(field.Type.Name ?? string.Empty))
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownRecord, input.FilePath, 1, $"{record.Name}.{field.Name}", field.Type.Name ?? "(anonymous)"));
                    }
                }
            }

            foreach (MacroDecl macro in model.Macros)
            {
                if (macro.Kind == MacroKind.Integer && TypeMapper.ConstantType(macro.CType ?? string.Empty) is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsupportedConstantType, input.FilePath, 1, macro.Name, macro.CType ?? "?"));
                }
            }

            // A model whose references do not resolve would make the emitted code fail to compile; stop at the diagnostic.
            bool fatal = diagnostics.Any(d => d.Id == DiagnosticDescriptors.UnknownRecord.Id);
            ParsedModel? parsed = fatal ? null : new ParsedModel(input.FilePath, input.Namespace, input.Role, input.OtherIoctlsType, model);
            return new Result<ParsedModel>(parsed, diagnostics.ToEquatableArray());
        }

        public static Result<EquatableArray<BindingSet>> Pair(ImmutableArray<ParsedModel> all, CancellationToken ct)
        {
            var sets = new List<BindingSet>();
            var diagnostics = new List<DiagnosticInfo>();
            foreach (IGrouping<string, ParsedModel> group in all.GroupBy(m => m.Namespace).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                ct.ThrowIfCancellationRequested();
                List<ParsedModel> primaries = group.Where(m => m.Role == ModelRole.Primary).OrderBy(m => m.FilePath, StringComparer.Ordinal).ToList();
                ParsedModel? baseline = group.Where(m => m.Role == ModelRole.Baseline).OrderBy(m => m.FilePath, StringComparer.Ordinal).FirstOrDefault();
                if (primaries.Count > 0)
                {
                    (ParsedModel primary, EquatableArray<IoctlType> otherTypes) = primaries.Count == 1
                        ? (primaries[0], EquatableArray<IoctlType>.Empty)
                        : ModelMerger.Merge(primaries, diagnostics);
                    sets.Add(new BindingSet(primary, baseline is null ? ProfileDelta.None : Delta(baseline.Model, primary.Model)) { OtherTypes = otherTypes });
                }
            }

            return new Result<EquatableArray<BindingSet>>(sets.ToEquatableArray(), diagnostics.ToEquatableArray());
        }

        public static IEnumerable<StructSpec> Structs(BindingSet set)
        {
            string? absent = set.Delta.BaselineProfile;
            Dictionary<string, int> alignments = set.Primary.Model.Records.ToDictionary(r => r.Name, r => r.Alignment, StringComparer.Ordinal);
            Dictionary<string, string> hints = HintNames(set);
            foreach (RecordDecl record in set.Primary.Model.Records)
            {
                yield return new StructSpec(
                    set.Primary.Namespace,
                    record,
                    absent,
                    set.Delta.IsNew("struct:" + record.Name),
                    record.Fields.Where(f => set.Delta.IsNew($"field:{record.Name}.{f.Name}")).Select(f => f.Name).ToEquatableArray())
                {
                    Pack = NeedsPack(record, alignments) ? record.Alignment : null,
                    HintName = hints[record.Name],
                };
            }
        }

        /// <summary>
        /// The file name of every type's source. Hint names must differ ignoring case, C names need not
        /// (videodev2.h has <c>v4l2_mpeg_vbi_itv0</c> and <c>v4l2_mpeg_vbi_ITV0</c>): those get their ordinal.
        /// </summary>
        private static Dictionary<string, string> HintNames(BindingSet set)
        {
            var hints = new Dictionary<string, string>(StringComparer.Ordinal);
            IEnumerable<string> names = set.Primary.Model.Records.Select(r => r.Name)
                .Concat(set.Primary.Model.Enums.Where(e => e.Name is not null).Select(e => e.Name!))
                .Concat(GeneratedTypeNames(set.Primary.OtherIoctlsType))
                .Concat(set.OtherTypes.Select(t => t.TypeName))
                .Distinct(StringComparer.Ordinal);
            foreach (IGrouping<string, string> same in names.GroupBy(n => n, StringComparer.OrdinalIgnoreCase))
            {
                List<string> ordered = same.OrderBy(n => n, StringComparer.Ordinal).ToList();
                for (int i = 0; i < ordered.Count; i++)
                {
                    string suffix = ordered.Count > 1 ? "." + i.ToString(CultureInfo.InvariantCulture) : string.Empty;
                    hints[ordered[i]] = $"{set.Primary.Namespace}.{ordered[i]}{suffix}.g.cs";
                }
            }

            return hints;
        }

        /// <summary>The types the generator adds besides the header's own: they take names a header might use too.</summary>
        private static IEnumerable<string> GeneratedTypeNames(string otherIoctlsType) =>
            new[] { FdKind.Iommufd, FdKind.Container, FdKind.Group, FdKind.Device }.Select(k => TypeNameOf(k, otherIoctlsType))
                .Concat(["Constants", "FixedArrays", otherIoctlsType]);

        /// <summary>
        /// Whether C packed the record below the alignment C# would give its fields: then C# must be
        /// told, or an array of it would get C#'s stride instead of C's.
        /// </summary>
        private static bool NeedsPack(RecordDecl record, Dictionary<string, int> alignments) =>
            record.IsPacked || record.Fields.Any(f => !f.Type.IsFlexibleArray && NaturalAlignment(f.Type, alignments) > record.Alignment);

        private static int NaturalAlignment(TypeRef type, Dictionary<string, int> alignments) =>
            type.Kind == TypeKind.Record
                ? type.Name is string n && alignments.TryGetValue(n, out int a) ? a : 1
                : Math.Min(8, Math.Max(1, type.ElementSize));

        public static IEnumerable<EnumSpec> Enums(BindingSet set)
        {
            Dictionary<string, string> hints = HintNames(set);
            foreach (EnumDecl decl in set.Primary.Model.Enums.Where(e => e.Name is not null))
            {
                yield return new EnumSpec(
                    set.Primary.Namespace,
                    decl,
                    set.Delta.BaselineProfile,
                    set.Delta.IsNew("enum:" + decl.Name),
                    decl.Constants.Where(c => set.Delta.IsNew("enumconst:" + c.Name)).Select(c => c.Name).ToEquatableArray())
                {
                    HintName = hints[decl.Name!],
                };
            }
        }

        public static ConstantsSpec Constants(BindingSet set)
        {
            var constants = new List<ConstantSpec>();
            AbiModel model = set.Primary.Model;
            foreach (MacroDecl macro in model.Macros)
            {
                string? absent = set.Delta.IsNew("const:" + macro.Name) ? set.Delta.BaselineProfile : null;
                if (macro.Kind == MacroKind.String)
                {
                    constants.Add(new ConstantSpec(macro.Name, "string", StringLiteral(macro.Value ?? string.Empty), "const char *", macro.Body, absent));
                }
                else if (macro.Kind == MacroKind.Float && macro.Value is string number)
                {
                    bool single = macro.CType == "float";
                    string literal = number.Contains("E") || number.Contains(".") || number.Contains("Infinity") || number.Contains("NaN")
                        ? number
                        : number + ".0";
                    literal = literal switch
                    {
                        "Infinity" => single ? "float.PositiveInfinity" : "double.PositiveInfinity",
                        "-Infinity" => single ? "float.NegativeInfinity" : "double.NegativeInfinity",
                        "NaN" => single ? "float.NaN" : "double.NaN",
                        _ => literal + (single ? "f" : "d"),
                    };
                    constants.Add(new ConstantSpec(macro.Name, single ? "float" : "double", literal, macro.CType ?? "double", macro.Body, absent));
                }
                else if (macro.Kind == MacroKind.Integer && TypeMapper.ConstantType(macro.CType ?? string.Empty) is string type)
                {
                    constants.Add(new ConstantSpec(macro.Name, type, IntegerLiteral(macro.Value!, macro.IsSigned != true), macro.CType!, macro.Body, absent));
                }
            }

            foreach (EnumDecl decl in model.Enums.Where(e => e.Name is null))
            {
                string type = TypeMapper.Primitive(decl.UnderlyingType);
                bool unsigned = type.StartsWith("u", StringComparison.Ordinal) || type == "byte";
                foreach (EnumConstant constant in decl.Constants)
                {
                    string? absent = set.Delta.IsNew("const:" + constant.Name) ? set.Delta.BaselineProfile : null;
                    constants.Add(new ConstantSpec(constant.Name, type, IntegerLiteral(constant.Value, unsigned), "enum member", constant.Doc, absent));
                }
            }

            EquatableArray<ConstantSpec> minSizes = model.Ioctls
                .Where(i => i.MinSize is not null)
                .Select(i => new ConstantSpec(
                    i.Name,
                    "uint",
                    i.MinSize!.Value.ToString(CultureInfo.InvariantCulture),
                    "struct " + i.Struct,
                    $"{i.Name}: struct {i.Struct} through {i.MinSizeMember}.",
                    set.Delta.IsNew("const:" + i.Name) ? set.Delta.BaselineProfile : null))
                .OrderBy(c => c.Name, StringComparer.Ordinal)
                .ToEquatableArray();
            return new ConstantsSpec(set.Primary.Namespace, constants.OrderBy(c => c.Name, StringComparer.Ordinal).ToEquatableArray(), minSizes);
        }

        public static IEnumerable<IoctlGroupSpec> IoctlGroups(BindingSet set)
        {
            AbiModel model = set.Primary.Model;
            Dictionary<string, RecordDecl> records = model.Records.ToDictionary(r => r.Name, StringComparer.Ordinal);
            Dictionary<string, string> otherTypes = set.OtherTypes.ToDictionary(t => t.Ioctl, t => t.TypeName, StringComparer.Ordinal);
            foreach (IGrouping<(FdKind Kind, string Type), IoctlDecl> group in model.Ioctls
                .GroupBy(i => (i.FdKind, TypeNameOf(i.FdKind, otherTypes.TryGetValue(i.Name, out string? t) ? t : set.Primary.OtherIoctlsType)))
                .OrderBy(g => g.Key.FdKind).ThenBy(g => g.Key.Item2, StringComparer.Ordinal))
            {
                List<IoctlDecl> ioctls = group.OrderBy(i => i.Name, StringComparer.Ordinal).ToList();
                string prefix = Naming.CommonPrefix(ioctls.Select(i => i.Name).ToList());
                var specs = new List<IoctlSpec>();
                var members = new HashSet<string>(StringComparer.Ordinal) { "Fd", "Seam" };
                foreach (IoctlDecl ioctl in ioctls)
                {
                    // X, TryX and XWithCapabilities are all taken, or a number is appended.
                    string baseName = Naming.Pascal(ioctl.Name.Substring(prefix.Length));
                    string method = baseName;
                    for (int n = 2; members.Contains(method) || members.Contains("Try" + method) || members.Contains(method + "WithCapabilities"); n++)
                    {
                        method = baseName + n.ToString(CultureInfo.InvariantCulture);
                    }

                    members.UnionWith([method, "Try" + method, method + "WithCapabilities"]);

                    RecordDecl? record = ioctl.Struct is null ? null : records[ioctl.Struct];
                    string? sizeField = record is { Fields.Count: > 0 } && record.Fields[0].Name is "size" or "argsz" && record.Fields[0].Type.Kind == TypeKind.UInt32
                        ? record.Fields[0].Name
                        : null;
                    specs.Add(new IoctlSpec(
                        ioctl,
                        method,
                        sizeField,
                        record?.Fields.Any(f => f.Type.IsFlexibleArray) == true,
                        sizeField == "argsz" && record!.Fields.Any(f => f.Name == "cap_offset"),
                        set.Delta.IsNew("ioctl:" + ioctl.Name) ? set.Delta.BaselineProfile : null));
                }

                yield return new IoctlGroupSpec(set.Primary.Namespace, group.Key.Type, group.Key.Kind, specs.ToEquatableArray());
            }
        }

        public static InlineArraysSpec InlineArrays(BindingSet set) => new(
            set.Primary.Namespace,
            set.Primary.Model.Records
                .SelectMany(r => r.Fields)
                .Select(f => f.Type)
                .Concat(set.Primary.Model.Ioctls.Where(i => i.Argument == IoctlArgKind.Pointer && i.ArgumentType is not null).Select(i => i.ArgumentType!))
                .SelectMany(t => t.ArrayLengths.AsSpan().ToArray())
                .Distinct()
                .OrderBy(n => n)
                .ToEquatableArray());

        internal static string TypeNameOf(FdKind kind, string otherType) => kind switch
        {
            FdKind.Iommufd => "IommufdIoctls",
            FdKind.Container => "VfioContainerIoctls",
            FdKind.Group => "VfioGroupIoctls",
            FdKind.Device => "VfioDeviceIoctls",
            _ => otherType,
        };

        private static ProfileDelta Delta(AbiModel baseline, AbiModel primary)
        {
            var old = new HashSet<string>(Keys(baseline), StringComparer.Ordinal);
            return new ProfileDelta(baseline.Profile, Keys(primary).Where(k => !old.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToEquatableArray());
        }

        private static IEnumerable<string> Keys(AbiModel model)
        {
            foreach (RecordDecl record in model.Records)
            {
                yield return "struct:" + record.Name;
                foreach (FieldDecl field in record.Fields)
                {
                    yield return $"field:{record.Name}.{field.Name}";
                }
            }

            foreach (EnumDecl decl in model.Enums)
            {
                if (decl.Name is not null)
                {
                    yield return "enum:" + decl.Name;
                }

                foreach (EnumConstant constant in decl.Constants)
                {
                    yield return (decl.Name is null ? "const:" : "enumconst:") + constant.Name;
                }
            }

            foreach (MacroDecl macro in model.Macros)
            {
                yield return "const:" + macro.Name;
            }

            foreach (IoctlDecl ioctl in model.Ioctls)
            {
                yield return "ioctl:" + ioctl.Name;
            }
        }

        private static string IntegerLiteral(string value, bool unsigned)
        {
            if (unsigned && ulong.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong u) && u >= 0x100)
            {
                return "0x" + u.ToString("X", CultureInfo.InvariantCulture);
            }

            return value;
        }

        private static string StringLiteral(string value)
        {
            var text = new StringBuilder("\"");
            foreach (char c in value)
            {
                text.Append(c switch
                {
                    '"' => "\\\"",
                    '\\' => "\\\\",
                    '\n' => "\\n",
                    '\t' => "\\t",
                    _ when c < ' ' => $"\\u{(int)c:X4}",
                    _ => c.ToString(),
                });
            }

            return text.Append('"').ToString();
        }

        private static string? Metadata(AnalyzerConfigOptions options, string name) =>
            options.TryGetValue("build_metadata.AdditionalFiles." + name, out string? value) && value.Length > 0 ? value : null;

        private static Result<ParsedModel> Failed(DiagnosticInfo diagnostic) =>
            new(null, new EquatableArray<DiagnosticInfo>(new[] { diagnostic }));
    }
}
