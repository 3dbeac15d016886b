using System.Globalization;
using System.Text;

namespace Abi.Headers.Tests;

/// <summary>
/// A random UAPI-style header, the same for the same seed: structs and unions nested, anonymous and
/// named, packed and aligned (attributes and <c>#pragma pack</c>); bitfields of every base type and
/// width, unnamed and zero-width; arrays of one to three dimensions, zero-length and flexible arrays;
/// pointers and function pointers; enums small, negative, wide and packed; typedefs of scalars,
/// arrays and untagged records; integer, character and string macros; and ioctls of every shape on
/// those types. Field names include C# keywords. Everything is valid GNU C that gcc lays out; what
/// the header declares at file scope is listed, so that a test can ask where each one went.
/// </summary>
internal sealed class RandomHeader
{
    private static readonly string[] s_scalars =
    [
        "__u8", "__u16", "__u32", "__u64", "__s8", "__s16", "__s32", "__s64",
        "char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int", "long",
        "unsigned long", "long long", "unsigned long long", "_Bool", "float", "double", "__aligned_u64", "__le16",
        "__be32", "__le64", "__aligned_be64", "__sum16", "__poll_t", "__kernel_long_t", "__kernel_size_t",
    ];

    private static readonly string[] s_bitfieldBases =
        ["__u8", "__u16", "__u32", "__u64", "__s8", "__s16", "__s32", "__s64", "int", "unsigned int", "unsigned char", "unsigned short", "unsigned long long", "_Bool"];

    private static readonly string[] s_keywords =
        ["object", "string", "base", "event", "fixed", "params", "checked", "internal", "lock", "namespace", "operator", "out", "ref", "this", "decimal", "delegate", "implicit", "virtual", "Equals", "GetHashCode", "ToString"];

    private readonly Random _random;
    private readonly string _prefix;
    private readonly StringBuilder _text = new();

    // Spellings of the complete types a member may use (records that end in a flexible array are
    // left out: gcc lets them be members only at the end).
    private readonly List<string> _records = [];
    private readonly List<string> _enumTypes = [];
    private readonly List<string> _scalarTypedefs = [];
    private readonly List<string> _arrayTypedefs = [];
    private int _fieldCounter;
    private int _typeCounter;
    private HashSet<string> _keywordsUsed = [];

    private RandomHeader(int seed)
    {
        _random = new Random(seed);
        _prefix = string.Create(CultureInfo.InvariantCulture, $"r{seed}_");
        FileName = string.Create(CultureInfo.InvariantCulture, $"random_{seed}.h");
    }

    /// <summary>Its file name (<c>random_SEED.h</c>).</summary>
    public string FileName { get; }

    /// <summary>The header's text.</summary>
    public string Text => _text.ToString();

    /// <summary>Struct and union tags declared at file scope (nested tagged records included: C gives them file scope).</summary>
    public List<string> Tags { get; } = [];

    /// <summary>Typedef names of untagged records.</summary>
    public List<string> RecordTypedefs { get; } = [];

    /// <summary>Named enums.</summary>
    public List<string> Enums { get; } = [];

    /// <summary>Integer-valued macros (not ioctls).</summary>
    public List<string> IntegerMacros { get; } = [];

    /// <summary>String-valued macros.</summary>
    public List<string> StringMacros { get; } = [];

    /// <summary>Ioctl request macros.</summary>
    public List<string> Ioctls { get; } = [];

    public static RandomHeader Create(int seed)
    {
        var header = new RandomHeader(seed);
        header.Build();
        return header;
    }

    private void Build()
    {
        string guard = _prefix.ToUpperInvariant() + "H";
        Line($"#ifndef {guard}");
        Line($"#define {guard}");
        Line("#include <linux/types.h>");
        Line("#include <linux/ioctl.h>");
        Line(string.Empty);
        Line($"struct {_prefix}opaque;");       // a pointer to an incomplete type is a member like any other

        int declarations = 6 + _random.Next(10);
        for (int i = 0; i < declarations; i++)
        {
            switch (_random.Next(10))
            {
                case 0 or 1:
                    Enum();
                    break;
                case 2:
                    Typedefs();
                    break;
                case 3:
                    Macros();
                    break;
                default:
                    Record();
                    break;
            }
        }

        Ioctl();
        for (int i = _random.Next(6); i > 0; i--)
        {
            Ioctl();
        }

        Line($"#endif");
    }

    private void Enum()
    {
        string name = $"{_prefix}e{_typeCounter++}";
        bool packed = Chance(15);
        var constants = new StringBuilder();
        int count = 1 + _random.Next(6);
        for (int i = 0; i < count; i++)
        {
            string constant = $"{name.ToUpperInvariant()}_C{i}";
            string value = _random.Next(8) switch
            {
                0 => " = -" + _random.Next(1, 300).ToString(CultureInfo.InvariantCulture),
                1 => " = 0x" + _random.Next(1, 0x7FFF).ToString("X", CultureInfo.InvariantCulture),
                2 when !packed => _random.Next(4) switch
                {
                    0 => " = 0x7FFFFFFF",
                    1 => " = 0x80000000",
                    2 => " = 0xFFFFFFFF",
                    _ => " = 0x100000000ULL",
                },
                3 => " = " + (i * 3).ToString(CultureInfo.InvariantCulture),
                4 when i > 0 => $" = {name.ToUpperInvariant()}_C{i - 1} + 2",
                _ => string.Empty,
            };
            constants.Append(CultureInfo.InvariantCulture, $"\t{constant}{value},\n");
            if (value.Contains("0x7FFFFFFF", StringComparison.Ordinal) || value.Contains("0x80000000", StringComparison.Ordinal) || value.Contains("0xFFFFFFFF", StringComparison.Ordinal) || value.Contains("ULL", StringComparison.Ordinal))
            {
                break;      // gcc refuses an implicit value past int (clang takes it): a wide value ends the list
            }
        }

        Line($"enum {(packed ? "__attribute__((packed)) " : string.Empty)}{name} {{");
        _text.Append(constants);
        Line("};");
        Enums.Add(name);
        _enumTypes.Add("enum " + name);
        if (Chance(30))
        {
            Line($"typedef enum {name} {name}_t;");
            _enumTypes.Add(name + "_t");
        }
    }

    private void Typedefs()
    {
        string name = $"{_prefix}t{_typeCounter++}";
        if (Chance(10))
        {
            Line($"typedef int (*{name})(void *, unsigned long);");
            _scalarTypedefs.Add(name);
        }
        else if (Chance(10) && _arrayTypedefs.Count > 0)
        {
            string inner = Pick(_arrayTypedefs);
            int length = 1 + _random.Next(3);
            Line($"typedef {inner} {name}[{length}];");
            _arrayTypedefs.Add(name);
        }
        else if (Chance(50))
        {
            Line($"typedef {Pick(s_scalars)} {name};");
            _scalarTypedefs.Add(name);
        }
        else
        {
            string type = Pick(s_scalars[..8]);
            int length = 1 + _random.Next(8);
            Line($"typedef {type} {name}[{length}];");
            _arrayTypedefs.Add(name);
        }
    }

    private void Macros()
    {
        int count = 1 + _random.Next(4);
        for (int i = 0; i < count; i++)
        {
            string name = $"{_prefix.ToUpperInvariant()}M{_typeCounter++}";
            if (Chance(10))
            {
                Line($"#define {name} \"{name.ToLowerInvariant()}-{_random.Next(100)}\"");
                StringMacros.Add(name);
                continue;
            }

            if (Chance(8))
            {
                Line($"#define {name}(x) (((x) << {_random.Next(8)}) | 1)");       // function-like: no value of its own
                continue;
            }

            string body = _random.Next(9) switch
            {
                0 => _random.Next(100000).ToString(CultureInfo.InvariantCulture),
                1 => "0x" + ((ulong)_random.NextInt64()).ToString("x", CultureInfo.InvariantCulture) + "ULL",
                2 => "(-" + _random.Next(1, 1000).ToString(CultureInfo.InvariantCulture) + ")",
                3 => "(1U << " + _random.Next(32).ToString(CultureInfo.InvariantCulture) + ")",
                4 => "(1ULL << " + _random.Next(64).ToString(CultureInfo.InvariantCulture) + ")",
                5 when IntegerMacros.Count >= 2 => $"({Pick(IntegerMacros)} | {Pick(IntegerMacros)})",
                6 => "'" + (char)('a' + _random.Next(26)) + "'",
                8 when _records.Count > 0 => $"(sizeof({Pick(_records)}))",
                7 => _random.Next(1000).ToString(CultureInfo.InvariantCulture) + "UL",
                _ => "0" + Convert.ToString(_random.Next(1, 4096), 8),
            };
            Line($"#define {name} {body}");
            IntegerMacros.Add(name);
        }
    }

    private void Record()
    {
        string tag = $"{_prefix}s{_typeCounter++}";
        bool union = Chance(20);
        string kind = union ? "union" : "struct";
        bool pragma = Chance(6);
        int pack = 1 << _random.Next(3);
        string attributes = Attributes();
        bool untaggedTypedef = !union && Chance(15);
        _fieldCounter = 0;
        _keywordsUsed = [];

        if (pragma)
        {
            Line($"#pragma pack(push, {pack})");
        }

        var body = new StringBuilder();
        bool flexible = Fields(body, "\t", depth: 0, allowFlexible: !union);
        if (untaggedTypedef)
        {
            string name = $"{tag}_t";
            Line($"typedef {kind} {{");
            _text.Append(body);
            Line($"}}{attributes} {name};");
            RecordTypedefs.Add(name);
            if (!flexible)
            {
                _records.Add(name);
            }
        }
        else
        {
            Line($"{kind} {tag} {{");
            _text.Append(body);
            Line($"}}{attributes};");
            Tags.Add(tag);
            if (!flexible)
            {
                _records.Add($"{kind} {tag}");
            }

            if (Chance(20))
            {
                Line($"typedef {kind} {tag} {tag}_t;");
            }
        }

        if (pragma)
        {
            Line("#pragma pack(pop)");
        }
    }

    private string Attributes() => _random.Next(13) switch
    {
        0 => " __attribute__((packed))",
        1 => " __attribute__ ((__packed__))",
        12 => " __attribute__((__aligned__(8)))",
        2 => $" __attribute__((aligned({1 << _random.Next(5)})))",
        3 => $" __attribute__((packed, aligned({1 << _random.Next(4)})))",
        _ => string.Empty,
    };

    /// <summary>Appends a record's members; true if the last one is a flexible array.</summary>
    private bool Fields(StringBuilder body, string indent, int depth, bool allowFlexible)
    {
        int count = 1 + _random.Next(depth == 0 ? 7 : 4);
        for (int i = 0; i < count; i++)
        {
            Member(body, indent, depth);
        }

        if (allowFlexible && Chance(12))
        {
            // gcc wants a named member before it (unnamed bitfields alone do not count).
            string type = Pick(s_scalars[..8]);
            body.Append(CultureInfo.InvariantCulture, $"{indent}__u32 {FieldName()};\n{indent}{type} {FieldName()}[];\n");
            return true;
        }

        return false;
    }

    private void Member(StringBuilder body, string indent, int depth)
    {
        int roll = _random.Next(100);
        if (roll < 35)
        {
            string qualifier = _random.Next(12) switch { 0 => "const ", 1 => "volatile ", 2 => "_Alignas(" + (16 << _random.Next(2)).ToString(CultureInfo.InvariantCulture) + ") ", _ => string.Empty };
            string type = Chance(3) ? (Chance(50) ? "long double" : "__int128") : Pick(s_scalars);
            body.Append(CultureInfo.InvariantCulture, $"{indent}{qualifier}{type} {FieldName()}{FieldAttribute()};\n");
        }
        else if (roll < 45)
        {
            body.Append(CultureInfo.InvariantCulture, $"{indent}{Pick(s_scalars)} {FieldName()}{Dimensions()}{FieldAttribute()};\n");
        }
        else if (roll < 55 && _records.Count > 0)
        {
            string type = Pick(_records);
            body.Append(CultureInfo.InvariantCulture, $"{indent}{type} {FieldName()}{(Chance(30) ? Dimensions(max: 3) : string.Empty)};\n");
        }
        else if (roll < 65 && depth < 2)
        {
            // An anonymous struct or union: its members belong to the enclosing record.
            string kind = Chance(50) ? "union" : "struct";
            body.Append(CultureInfo.InvariantCulture, $"{indent}{kind} {{\n");
            Fields(body, indent + "\t", depth + 1, allowFlexible: false);
            body.Append(CultureInfo.InvariantCulture, $"{indent}}}{(Chance(15) ? " __attribute__((packed))" : string.Empty)};\n");
        }
        else if (roll < 70 && depth < 2)
        {
            // A named member of an inline record type, tagged (file scope) or not, maybe an array of it.
            string kind = Chance(50) ? "union" : "struct";
            string tag = Chance(40) ? $" {_prefix}n{_typeCounter++}" : string.Empty;
            body.Append(CultureInfo.InvariantCulture, $"{indent}{kind}{tag} {{\n");
            int saved = _fieldCounter;
            HashSet<string> keywords = _keywordsUsed;
            _fieldCounter = 0;
            _keywordsUsed = [];
            Fields(body, indent + "\t", depth + 1, allowFlexible: false);
            _fieldCounter = saved;
            _keywordsUsed = keywords;
            body.Append(CultureInfo.InvariantCulture, $"{indent}}} {FieldName()}{(Chance(20) ? Dimensions(max: 3) : string.Empty)};\n");
            if (tag.Length > 0)
            {
                Tags.Add(tag[1..]);
            }
        }
        else if (roll < 82)
        {
            Bitfields(body, indent);
        }
        else if (roll < 86)
        {
            string pointee = _random.Next(5) switch
            {
                0 => "void",
                1 => "const char",
                2 => $"struct {_prefix}opaque",
                3 when _records.Count > 0 => Pick(_records),
                _ => Pick(s_scalars),
            };
            body.Append(CultureInfo.InvariantCulture, $"{indent}{pointee} *{FieldName()}{(Chance(25) ? Dimensions(max: 3) : string.Empty)};\n");
        }
        else if (roll < 88)
        {
            body.Append(CultureInfo.InvariantCulture, $"{indent}int (*{FieldName()})(void *, __u32);\n");
        }
        else if (roll < 92 && _enumTypes.Count > 0)
        {
            body.Append(CultureInfo.InvariantCulture, $"{indent}{Pick(_enumTypes)} {FieldName()}{(Chance(20) ? Dimensions(max: 3) : string.Empty)};\n");
        }
        else if (roll < 95 && _scalarTypedefs.Count > 0)
        {
            body.Append(CultureInfo.InvariantCulture, $"{indent}{Pick(_scalarTypedefs)} {FieldName()};\n");
        }
        else if (roll < 97 && _arrayTypedefs.Count > 0)
        {
            body.Append(CultureInfo.InvariantCulture, $"{indent}{Pick(_arrayTypedefs)} {FieldName()};\n");
        }
        else
        {
            string type = Pick(s_scalars[..8]);
            body.Append(CultureInfo.InvariantCulture, $"{indent}{type} {FieldName()}[0];\n");
        }
    }

    private void Bitfields(StringBuilder body, string indent)
    {
        int count = 1 + _random.Next(5);
        for (int i = 0; i < count; i++)
        {
            string type = _enumTypes.Count > 0 && Chance(8) ? Pick(_enumTypes) : Pick(s_bitfieldBases);
            int bits = type switch
            {
                _ when _enumTypes.Contains(type) => 8,       // wide enough for any enum here, packed ones included
                "_Bool" => 1,
                "__u8" or "__s8" or "unsigned char" => 8,
                "__u16" or "__s16" or "unsigned short" => 16,
                "__u64" or "__s64" or "unsigned long long" => 64,
                _ => 32,
            };
            int kind = _random.Next(10);
            if (kind == 0)
            {
                body.Append(CultureInfo.InvariantCulture, $"{indent}{type} : 0;\n");
            }
            else if (kind == 1)
            {
                body.Append(CultureInfo.InvariantCulture, $"{indent}{type} : {1 + _random.Next(bits)};\n");
            }
            else
            {
                body.Append(CultureInfo.InvariantCulture, $"{indent}{type} {FieldName()} : {1 + _random.Next(bits)};\n");
            }
        }
    }

    private void Ioctl()
    {
        string name = $"{_prefix.ToUpperInvariant()}IOC{Ioctls.Count}";
        string magic = _random.Next(3) switch
        {
            0 => "'" + (char)('A' + _random.Next(26)) + "'",
            1 => "0x" + _random.Next(256).ToString("X2", CultureInfo.InvariantCulture),
            _ => _random.Next(256).ToString(CultureInfo.InvariantCulture),
        };
        int nr = _random.Next(256);
        string type = _random.Next(8) switch
        {
            0 or 1 or 2 when _records.Count > 0 => Pick(_records),
            3 => Pick(s_scalars[..8]) + $"[{1 + _random.Next(4)}]",
            4 => "void *",
            5 when _enumTypes.Count > 0 => Pick(_enumTypes),
            6 when _scalarTypedefs.Count > 0 => Pick(_scalarTypedefs),
            7 when _arrayTypedefs.Count > 0 => Pick(_arrayTypedefs),
            _ => Pick(s_scalars[..8]),
        };
        string body = _random.Next(5) switch
        {
            0 => $"_IO({magic}, {nr})",
            1 => $"_IOR({magic}, {nr}, {type})",
            2 => $"_IOW({magic}, {nr}, {type})",
            3 => $"_IOWR({magic}, {nr}, {type})",
            _ => $"_IOC(_IOC_READ | _IOC_WRITE, {magic}, {nr}, {_random.Next(1, 512)})",
        };
        Line($"#define {name} {body}");
        Ioctls.Add(name);
    }

    private string FieldName()
    {
        if (Chance(6))
        {
            string keyword = Pick(s_keywords);
            if (_keywordsUsed.Add(keyword))
            {
                return keyword;
            }
        }

        return "f" + (_fieldCounter++).ToString(CultureInfo.InvariantCulture);
    }

    private string FieldAttribute() => _random.Next(100) switch
    {
        < 5 => $" __attribute__((aligned({1 << _random.Next(5)})))",
        5 => " __attribute__((aligned))",
        < 9 => " __attribute__((packed))",
        _ => string.Empty,
    };

    private string Dimensions(int max = 6)
    {
        var text = new StringBuilder();
        int dimensions = 1 + (Chance(25) ? _random.Next(2) + 1 : 0);
        for (int i = 0; i < dimensions; i++)
        {
            text.Append(CultureInfo.InvariantCulture, $"[{1 + _random.Next(max)}]");
        }

        return text.ToString();
    }

    private bool Chance(int percent) => _random.Next(100) < percent;

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private void Line(string line) => _text.Append(line).Append('\n');
}
