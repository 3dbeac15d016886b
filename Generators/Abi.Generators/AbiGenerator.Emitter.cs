using System.Globalization;
using System.Linq;
using Abi.Generators.Helpers;
using Abi.Generators.Model;
using Abi.Model;

namespace Abi.Generators;

public sealed partial class AbiGenerator
{
    /// <summary>Spec to C# source, one partial per emitted construct. Output depends only on the spec, in the invariant culture.</summary>
    internal static partial class Emitter
    {
        private static SourceWriter Begin(string ns, params string[] usings)
        {
            var w = new SourceWriter();

            // C names are kept, and C names are often lowercase (CS8981 warns about those).
            w.Line("#pragma warning disable CS8981");
            foreach (string u in usings)
            {
                w.Line($"using {u};");
            }

            w.Line().Line($"namespace {ns};").Line();
            return w;
        }

        private static void Doc(SourceWriter w, string tag, string? text)
        {
            if (!string.IsNullOrWhiteSpace(text))
            {
                foreach (string line in Naming.DocLines(tag, text!))
                {
                    w.Line(line);
                }
            }
        }

        private static void Absent(SourceWriter w, string? absentFrom)
        {
            if (absentFrom is not null)
            {
                w.Line($"[global::Abi.Interop.AbsentFromProfile(\"{absentFrom}\")]");
            }
        }

        private static string AbsentRemark(string? absentFrom) =>
            absentFrom is null ? string.Empty : $" Not in the {absentFrom} ABI.";

        public static string InlineArrays(InlineArraysSpec spec)
        {
            SourceWriter w = Begin(spec.Namespace, "System.Runtime.CompilerServices");
            foreach (int length in spec.Lengths)
            {
                w.Line($"/// <summary>A C array of {length.ToString(CultureInfo.InvariantCulture)} elements, laid out inline.</summary>");
                w.Line($"[InlineArray({length.ToString(CultureInfo.InvariantCulture)})]");
                w.Line($"public struct FixedArray{length.ToString(CultureInfo.InvariantCulture)}<T>")
                    .Open("    where T : unmanaged")
                    .Line("private T _element0;")
                    .Close();
                w.Line();
            }

            return w.ToString();
        }

        public static string Enum(EnumSpec spec)
        {
            EnumDecl decl = spec.Enum;
            SourceWriter w = Begin(spec.Namespace, "System");
            Doc(w, "summary", decl.Doc?.Summary ?? $"enum {decl.Name}");
            Doc(w, "remarks", $"C: enum {decl.Name}, {decl.Location}.{AbsentRemark(spec.AbsentFrom)}" + (decl.Doc?.Description is string d ? "\n\n" + d : string.Empty));
            if (IsFlags(decl))
            {
                w.Line("[Flags]");
            }

            Absent(w, spec.AbsentFrom);
            w.Open($"public enum {Naming.Identifier(decl.Name!)} : {TypeMapper.Primitive(decl.UnderlyingType)}");
            foreach (EnumConstant constant in decl.Constants)
            {
                Doc(w, "summary", constant.Doc ?? $"C: {constant.Name} = {constant.Value}.");
                Absent(w, spec.ConstantAbsentFrom(constant.Name));
                w.Line($"{Naming.Identifier(constant.Name)} = {constant.Value},");
            }

            w.Close();
            return w.ToString();
        }

        /// <summary>Bit flags: every non-zero value a distinct power of two, and either a flag-like name or a value past 2.</summary>
        internal static bool IsFlags(EnumDecl decl)
        {
            ulong[] values = decl.Constants
                .Select(c => ulong.TryParse(c.Value, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : ulong.MaxValue)
                .Where(v => v != 0)
                .ToArray();
            if (values.Length < 2 || values.Any(v => (v & (v - 1)) != 0) || values.Distinct().Count() != values.Length)
            {
                return false;
            }

            string name = decl.Name ?? string.Empty;
            return name.Contains("flag") || name.Contains("cap") || values.Max() > 2;
        }

        public static string Constants(ConstantsSpec spec)
        {
            SourceWriter w = Begin(spec.Namespace);
            w.Line("/// <summary>The headers' <c>#define</c> constants and anonymous enum members, under their C names.</summary>");
            w.Open("public static partial class Constants");
            foreach (ConstantSpec constant in spec.Constants)
            {
                string body = constant.CType == "enum member"
                    ? constant.Doc ?? $"C: anonymous enum member {constant.Name}."
                    : $"C: #define {constant.Name} {constant.Doc} ({constant.CType})";
                Doc(w, "summary", body);
                Absent(w, constant.AbsentFrom);
                w.Line($"public const {constant.CSharpType} {Naming.Identifier(constant.Name)} = {constant.Literal};");
            }

            w.Close();
            if (spec.MinSizes.Count > 0)
            {
                w.Line();
                w.Line("/// <summary>");
                w.Line("/// The smallest argument each ioctl's handler accepts, under the ioctl's name: the end of the");
                w.Line("/// struct's last mandatory member. Callers built against an older struct stop there.");
                w.Line("/// </summary>");
                w.Open("public static partial class IoctlMinSizes");
                foreach (ConstantSpec size in spec.MinSizes)
                {
                    Doc(w, "summary", size.Doc!);
                    Absent(w, size.AbsentFrom);
                    w.Line($"public const uint {Naming.Identifier(size.Name)} = {size.Literal};");
                }

                w.Close();
            }

            return w.ToString();
        }
    }
}
