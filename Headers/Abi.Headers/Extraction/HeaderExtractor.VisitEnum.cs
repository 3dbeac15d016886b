using System.Globalization;
using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    private void VisitEnum(CXCursor cursor)
    {
        if (!cursor.IsDefinition || Locate(cursor) is not string location)
        {
            return;
        }

        CXType integer = cursor.EnumIntegerType.Canonical;
        TypeKind underlying = KindOf(integer, integer.SizeOf, "enum " + cursor.Spelling);
        bool signed = underlying is TypeKind.Int8 or TypeKind.Int16 or TypeKind.Int32 or TypeKind.Int64 or TypeKind.Char;
        KernelDoc? doc = KernelDoc.Parse(cursor.RawComment);
        var constants = new List<EnumConstant>();
        foreach (CXCursor child in cursor.Children())
        {
            if (child.Kind != CXCursorKind.CXCursor_EnumConstantDecl)
            {
                continue;
            }

            string name = child.Spelling;
            constants.Add(new EnumConstant
            {
                Name = name,
                Value = signed
                    ? child.EnumConstantValue.ToString(CultureInfo.InvariantCulture)
                    : child.EnumConstantUnsignedValue.ToString(CultureInfo.InvariantCulture),
                Doc = doc?.MemberText(name) ?? KernelDoc.PlainText(child.RawComment),
            });
        }

        _enums.Add(new EnumDecl
        {
            Name = cursor.IsAnonymous ? null : cursor.Spelling,
            Location = location,
            UnderlyingType = underlying,
            Constants = constants.ToEquatableArray(),
            Doc = doc?.ToDocComment(),
        });
    }
}
