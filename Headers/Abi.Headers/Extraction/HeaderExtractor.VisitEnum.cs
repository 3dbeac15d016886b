using System.Globalization;
using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    private readonly Dictionary<string, string?> _enumNames = new(StringComparer.Ordinal);

    /// <summary>
    /// The model's name for an enum declaration, describing it on first sight wherever it is
    /// declared (a field may use an enum of another header). An untagged enum takes its typedef
    /// name (<paramref name="suggested"/>).
    /// </summary>
    private string? EnumNameOf(CXCursor decl, string? suggested)
    {
        string usr = decl.Usr;
        string key = usr.Length > 0 ? usr : LocationOf(decl) + "#" + decl.Spelling;
        // An untagged enum seen first without its typedef (an anonymous enum's constants) stays
        // unnamed until a typedef names it.
        if (!_enumNames.TryGetValue(key, out string? name) || (name is null && suggested is not null))
        {
            bool described = _enumNames.ContainsKey(key);
            name = IsTagless(decl) ? suggested : decl.Spelling;
            _enumNames[key] = name;
            if (decl.IsDefinition && !described)
            {
                VisitEnum(decl, name);
            }
        }

        return name;
    }

    private void VisitEnum(CXCursor cursor, string? name)
    {
        CXType integer = cursor.EnumIntegerType.Canonical;
        TypeKind underlying = KindOf(integer, integer.SizeOf) ?? TypeKind.Int32;
        bool signed = underlying is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64 or TypeKind.Char;
        KernelDoc? doc = KernelDoc.Parse(cursor.RawComment);
        var constants = new List<EnumConstant>();
        foreach (CXCursor child in cursor.Children())
        {
            if (child.Kind != CXCursorKind.CXCursor_EnumConstantDecl)
            {
                continue;
            }

            string constant = child.Spelling;
            constants.Add(new EnumConstant
            {
                Name = constant,
                Value = signed
                    ? child.EnumConstantValue.ToString(CultureInfo.InvariantCulture)
                    : child.EnumConstantUnsignedValue.ToString(CultureInfo.InvariantCulture),
                Doc = doc?.MemberText(constant) ?? KernelDoc.PlainText(child.RawComment),
            });
        }

        _enums.Add(new EnumDecl
        {
            Name = name,
            Location = LocationOf(cursor),
            UnderlyingType = underlying,
            Constants = constants.ToEquatableArray(),
            Doc = doc?.ToDocComment(),
        });
    }
}
