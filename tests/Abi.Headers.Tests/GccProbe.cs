using System.Diagnostics;
using System.Globalization;
using System.Text;
using Abi.Model;

namespace Abi.Headers.Tests;

/// <summary>
/// gcc as the layout oracle: a C program over the same headers prints what gcc computes for every
/// record, field and macro of a model, in the same line format as <see cref="Expected"/> derives
/// from the model, so that the two can be compared line by line.
/// </summary>
internal static class GccProbe
{
    public static string Source(AbiModel model, IEnumerable<string>? prelude = null, bool enumConstants = false)
    {
        var c = new StringBuilder();
        c.Append("#include <stdio.h>\n#include <stddef.h>\n#include <string.h>\n");
        foreach (string header in (prelude ?? []).Concat(model.Headers).Concat(model.Prelude).Distinct())
        {
            c.Append(CultureInfo.InvariantCulture, $"#include <{header}>\n");
        }

        c.Append("""
            #define ABI_TYPE(x) _Generic((x), int: "int", unsigned int: "unsigned int", long: "long", \
                unsigned long: "unsigned long", long long: "long long", unsigned long long: "unsigned long long", default: "other")
            int main(void) {

            """);
        foreach (RecordDecl record in model.Records)
        {
            string type = TypeOf(record);
            c.Append(CultureInfo.InvariantCulture, $"  printf(\"R %s %zu %zu\\n\", \"{record.Name}\", sizeof({type}), _Alignof({type}));\n");
            foreach (FieldDecl field in record.Fields.Where(f => f.BitWidth is not null))
            {
                // A bitfield has no offsetof: set it to all ones and print the record's bytes.
                c.Append(CultureInfo.InvariantCulture, $"  {{ {type} v; memset(&v, 0, sizeof v); v.{field.Name} = -1; printf(\"B %s.%s\", \"{record.Name}\", \"{field.Name}\");");
                c.Append(" for (size_t i = 0; i < sizeof v; i++) printf(\" %02x\", ((unsigned char *)&v)[i]); printf(\"\\n\"); }\n");
            }

            foreach (FieldDecl field in record.Fields.Where(f => f.BitWidth is null))
            {
                c.Append(CultureInfo.InvariantCulture, $"  printf(\"F %s.%s %zu\\n\", \"{record.Name}\", \"{field.Name}\", offsetof({type}, {field.Name}));\n");
                if (!field.Type.IsFlexibleArray)
                {
                    c.Append(CultureInfo.InvariantCulture, $"  printf(\"Z %s.%s %zu\\n\", \"{record.Name}\", \"{field.Name}\", sizeof((({type} *)0)->{field.Name}));\n");
                }
            }
        }

        foreach (MacroDecl macro in model.Macros)
        {
            if (macro.Kind == MacroKind.Integer)
            {
                string format = macro.IsSigned == true ? "%lld" : "%llu";
                string cast = macro.IsSigned == true ? "long long" : "unsigned long long";
                c.Append(CultureInfo.InvariantCulture, $"  printf(\"M %s %s {format}\\n\", \"{macro.Name}\", ABI_TYPE({macro.Name}), ({cast})({macro.Name}));\n");
            }
            else if (macro.Kind == MacroKind.String)
            {
                c.Append(CultureInfo.InvariantCulture, $"  printf(\"S %s %s\\n\", \"{macro.Name}\", {macro.Name});\n");
            }
        }

        foreach (IoctlDecl ioctl in model.Ioctls)
        {
            c.Append(CultureInfo.InvariantCulture, $"  printf(\"I %s %u\\n\", \"{ioctl.Name}\", (unsigned)({ioctl.Name}));\n");
        }

        // Optional: a header of the matrix may define a macro of an enum constant's name, which the
        // probe would read instead.
        foreach (EnumConstant constant in enumConstants ? model.Enums.SelectMany(e => e.Constants) : [])
        {
            string n = constant.Name;
            c.Append(CultureInfo.InvariantCulture, $"  printf(\"E %s %s%llu\\n\", \"{n}\", ({n}) < 0 ? \"-\" : \"\", ({n}) < 0 ? -(unsigned long long)({n}) : (unsigned long long)({n}));\n");
        }

        c.Append("  return 0;\n}\n");
        return c.ToString();
    }

    /// <summary>How C names a record: its tag, or, for one the source leaves untagged, the expression the model recorded.</summary>
    public static string TypeOf(RecordDecl record) => record.CType ?? $"{(record.Kind == RecordKind.Union ? "union" : "struct")} {record.Name}";

    /// <summary>The lines the probe must print if the model agrees with gcc.</summary>
    public static List<string> Expected(AbiModel model, bool enumConstants = false)
    {
        var lines = new List<string>();
        foreach (RecordDecl record in model.Records)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"R {record.Name} {record.Size} {record.Alignment}"));
            foreach (FieldDecl field in record.Fields.Where(f => f.BitWidth is not null))
            {
                byte[] bytes = new byte[record.Size];
                for (int bit = field.BitOffset!.Value; bit < field.BitOffset + field.BitWidth; bit++)
                {
                    bytes[bit / 8] |= (byte)(1 << (bit % 8));
                }

                lines.Add($"B {record.Name}.{field.Name}" + string.Concat(bytes.Select(b => " " + b.ToString("x2", CultureInfo.InvariantCulture))));
            }

            foreach (FieldDecl field in record.Fields.Where(f => f.BitWidth is null))
            {
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"F {record.Name}.{field.Name} {field.Offset}"));
                if (!field.Type.IsFlexibleArray)
                {
                    lines.Add(string.Create(CultureInfo.InvariantCulture, $"Z {record.Name}.{field.Name} {field.Size}"));
                }
            }
        }

        foreach (MacroDecl macro in model.Macros)
        {
            if (macro.Kind == MacroKind.Integer)
            {
                lines.Add($"M {macro.Name} {macro.CType} {macro.Value}");
            }
            else if (macro.Kind == MacroKind.String)
            {
                lines.Add($"S {macro.Name} {macro.Value}");
            }
        }

        foreach (IoctlDecl ioctl in model.Ioctls)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"I {ioctl.Name} {ioctl.Request}"));
        }

        lines.AddRange((enumConstants ? model.Enums.SelectMany(e => e.Constants) : []).Select(c => $"E {c.Name} {c.Value}"));
        return lines;
    }

    /// <summary>Compiles the probe with gcc against <paramref name="includeDirectories"/> and returns what it prints.</summary>
    public static List<string> Run(AbiModel model, IReadOnlyList<string> includeDirectories, IEnumerable<string>? prelude = null, bool enumConstants = false)
    {
        string dir = Directory.CreateTempSubdirectory("abi-gcc-probe-").FullName;
        try
        {
            string source = Path.Combine(dir, "probe.c");
            string binary = Path.Combine(dir, "probe");
            File.WriteAllText(source, Source(model, prelude, enumConstants));
            var args = new List<string> { "-std=gnu11", "-w", "-o", binary, source };
            args.AddRange(includeDirectories.Select(d => "-I" + d));
            Exec("gcc", args);
            return Exec(binary, []).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    internal static string Exec(string file, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} failed ({process.ExitCode}): {stderr.Result}");
        return stdout;
    }
}
