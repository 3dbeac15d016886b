using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Abi.Generators.Helpers;
using Abi.Generators.Model;
using Abi.Model;
using TypeKind = Abi.Model.TypeKind;

namespace Abi.Generators;

public sealed partial class AbiGenerator
{
    internal static partial class Emitter
    {
        /// <summary>
        /// A record as an explicit-layout struct: sizes and offsets come from the model, never from
        /// the C# field types, because <c>__aligned_u64</c> and packing are invisible in those.
        /// </summary>
        public static string Struct(StructSpec spec)
        {
            RecordDecl record = spec.Record;
            string name = Naming.Identifier(record.Name);
            string keyword = record.Kind == RecordKind.Union ? "union" : "struct";
            SourceWriter w = Begin(spec.Namespace, "System", "System.Runtime.InteropServices");
            Doc(w, "summary", record.Doc?.Summary is { Length: > 0 } s ? s : $"{keyword} {record.Name}");
            Doc(w, "remarks",
                FormattableString.Invariant($"C: {(record.CType is null ? $"{keyword} {record.Name}" : $"unnamed {keyword}, reached as {record.CType}")}, {record.Location}; {record.Size} bytes, aligned to {record.Alignment}{(record.IsPacked ? ", packed" : string.Empty)}.{AbsentRemark(spec.AbsentFrom)}")
                + (record.Doc?.Description is string d ? "\n\n" + d : string.Empty));
            w.Line(spec.Pack is int pack
                ? FormattableString.Invariant($"[StructLayout(LayoutKind.Explicit, Size = {record.Size}, Pack = {pack})]")
                : FormattableString.Invariant($"[StructLayout(LayoutKind.Explicit, Size = {record.Size})]"));
            Absent(w, spec.AbsentFrom);
            w.Open($"public unsafe partial struct {name}");

            var storage = new HashSet<string>();
            bool first = true;
            foreach (FieldDecl field in record.Fields)
            {
                if (!first)
                {
                    w.Line();
                }

                first = false;
                string? absent = spec.FieldAbsentFrom(field.Name);
                if (field.Type.IsFlexibleArray)
                {
                    FlexibleArrayHelpers(w, record, field, absent);
                }
                else if (field.BitWidth is int width)
                {
                    Bitfield(w, record, field, width, storage, absent);
                }
                else
                {
                    Doc(w, "summary", field.Doc ?? $"C: {field.Name}.");
                    Doc(w, "remarks", FormattableString.Invariant(
                        $"C: {field.Type.Spelling} {field.Name}, offset {field.Offset}, {field.Size} bytes{(field.IsAligned ? ", explicitly aligned" : string.Empty)}{(field.Anonymous is null ? string.Empty : $", in anonymous {field.Anonymous}")}.{AbsentRemark(absent)}"));
                    Absent(w, absent);
                    w.Line(FormattableString.Invariant($"[FieldOffset({field.Offset})]"));
                    w.Line($"public {TypeMapper.Field(field.Type)} {Naming.Identifier(field.Name)};");
                }
            }

            if (record.Fields.Any(f => f.Type.IsFlexibleArray) || record.Fields.Any(f => f.Name == "cap_offset"))
            {
                w.Line();
                w.Line($"/// <summary>The struct at the start of <paramref name=\"buffer\"/>, which also holds its variable-length part.</summary>");
                w.Line($"/// <exception cref=\"ArgumentOutOfRangeException\">The buffer is shorter than the struct.</exception>");
                w.Line($"public static ref {name} FromBuffer(Span<byte> buffer) => ref MemoryMarshal.AsRef<{name}>(buffer);");
            }

            w.Close();
            return w.ToString();
        }

        private static void FlexibleArrayHelpers(SourceWriter w, RecordDecl record, FieldDecl field, string? absent)
        {
            // A pointer cannot be a generic argument: a flexible array of pointers is one of nint.
            string element = field.Type.Kind == TypeKind.Pointer && field.Type.ArrayLengths.Count == 0 ? "nint" : TypeMapper.Field(field.Type with { IsFlexibleArray = false });
            string pascal = Naming.Pascal(field.Name);
            int elementSize = field.Type.ArrayLengths.AsSpan().ToArray().Aggregate(field.Type.ElementSize, (size, n) => size * n);
            string offset = field.Offset.ToString(CultureInfo.InvariantCulture);
            string size = elementSize.ToString(CultureInfo.InvariantCulture);

            w.Line(FormattableString.Invariant($"/// <summary>Offset of the flexible array member <c>{field.Name}[]</c> ({field.Type.Spelling}).</summary>"));
            Absent(w, absent);
            w.Line($"public const int {pascal}Offset = {offset};");
            w.Line();
            w.Line($"/// <summary>Bytes needed for this struct followed by <paramref name=\"count\"/> elements of <c>{field.Name}[]</c>.</summary>");
            Doc(w, "remarks", field.Doc);
            w.Line($"public static int SizeWith{pascal}(int count)");
            w.Line("{");
            w.Line("    ArgumentOutOfRangeException.ThrowIfNegative(count);");
            w.Line($"    return Math.Max(sizeof({Naming.Identifier(record.Name)}), checked({offset} + (count * {size})));");
            w.Line("}");
            w.Line();
            w.Line($"/// <summary>The <c>{field.Name}[]</c> elements that follow the struct in <paramref name=\"buffer\"/>, which holds the struct at its start.</summary>");
            w.Line($"public static Span<{element}> Get{pascal}(Span<byte> buffer) => MemoryMarshal.Cast<byte, {element}>(buffer.Slice({offset}));");
        }

        private static void Bitfield(SourceWriter w, RecordDecl record, FieldDecl field, int width, HashSet<string> storage, string? absent)
        {
            // The normaliser dropped the fields no storage unit holds.
            _ = BitfieldStorage.TryPlace(field, record.Size, out int unitOffset, out int unitSize);
            int bitOffset = field.BitOffset!.Value;
            int shift = bitOffset - (unitOffset * 8);
            string unitType = unitSize switch { 1 => "byte", 2 => "ushort", 8 => "ulong", _ => "uint" };
            string backing = FormattableString.Invariant($"_bitfield_{unitOffset}_{unitSize}");
            if (storage.Add(backing))
            {
                w.Line(FormattableString.Invariant($"[FieldOffset({unitOffset})]"));
                w.Line($"private {unitType} {backing};");
                w.Line();
            }

            string type = field.Type.Kind == TypeKind.Enum && field.Type.Name is null ? TypeMapper.Primitive(field.Type.EnumBase ?? TypeKind.Int32) : TypeMapper.Element(field.Type);
            bool signed = field.Type.Kind is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64
                || (field.Type.Kind == TypeKind.Enum && field.Type.EnumBase is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64);
            string mask = width == 64 ? "ulong.MaxValue" : $"0x{((1UL << width) - 1).ToString("X", CultureInfo.InvariantCulture)}UL";
            string s = shift.ToString(CultureInfo.InvariantCulture);
            string getter = signed
                ? FormattableString.Invariant($"unchecked(({type})((long)((ulong){backing} << {64 - shift - width}) >> {64 - width}))")
                : $"unchecked(({type})(((ulong){backing} >> {s}) & {mask}))";
            Doc(w, "summary", field.Doc ?? $"C: {field.Name}.");
            Doc(w, "remarks", FormattableString.Invariant($"C: {field.Type.Spelling} {field.Name} : {width}, bit {bitOffset}.{AbsentRemark(absent)}"));
            Absent(w, absent);
            w.Open($"public {type} {Naming.Identifier(field.Name)}");
            w.Line($"readonly get => {getter};");
            w.Line($"set => {backing} = unchecked(({unitType})(((ulong){backing} & ~({mask} << {s})) | (((ulong)value & {mask}) << {s})));");
            w.Close();
        }
    }
}
