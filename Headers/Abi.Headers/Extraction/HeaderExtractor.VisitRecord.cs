using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    private void VisitRecord(CXCursor cursor)
    {
        // Named records declared inside another record are file-scope in C; find them too.
        foreach (CXCursor child in cursor.Children())
        {
            if (child.Kind is CXCursorKind.CXCursor_StructDecl or CXCursorKind.CXCursor_UnionDecl && !child.IsAnonymous)
            {
                VisitRecord(child);
            }
        }

        if (!cursor.IsDefinition || cursor.IsAnonymous || Locate(cursor) is not string location)
        {
            return;
        }

        string name = cursor.Spelling;
        if (!_seenRecords.Add(name))
        {
            return;
        }

        CXType type = cursor.Type;
        KernelDoc? doc = KernelDoc.Parse(cursor.RawComment);
        var fields = new List<FieldDecl>();
        AddFields(type, name, baseBitOffset: 0, anonymousPath: null, doc, fields);

        _records.Add(new RecordDecl
        {
            Name = name,
            Kind = cursor.Kind == CXCursorKind.CXCursor_UnionDecl ? RecordKind.Union : RecordKind.Struct,
            Location = location,
            Size = checked((int)type.SizeOf),
            Alignment = checked((int)type.AlignOf),
            IsPacked = cursor.HasChild(CXCursorKind.CXCursor_PackedAttr),
            Fields = fields.ToEquatableArray(),
            Doc = doc?.ToDocComment(),
        });
    }

    /// <summary>
    /// Adds the fields of <paramref name="recordType"/>, descending into anonymous members.
    /// libclang's field offsets are relative to the immediate record, so the anonymous member's
    /// own offset is carried down in <paramref name="baseBitOffset"/>.
    /// </summary>
    private static void AddFields(CXType recordType, string recordName, long baseBitOffset, string? anonymousPath, KernelDoc? doc, List<FieldDecl> fields)
    {
        foreach (CXCursor field in recordType.Fields())
        {
            long bitOffset = baseBitOffset + field.OffsetOfField;
            CXType fieldType = field.Type;
            CXCursor typeDecl = fieldType.Canonical.Declaration;

            // An anonymous struct/union member: the field has no name of its own (libclang 14 spells
            // it "", libclang 19 spells the type), so ask whether the record is anonymous instead.
            if (typeDecl.Kind is CXCursorKind.CXCursor_StructDecl or CXCursorKind.CXCursor_UnionDecl && typeDecl.IsAnonymousRecordDecl)
            {
                string kind = typeDecl.Kind == CXCursorKind.CXCursor_UnionDecl ? "union" : "struct";
                string path = (anonymousPath is null ? string.Empty : anonymousPath + "/") + $"{kind}@{bitOffset / 8}";
                KernelDoc? innerDoc = KernelDoc.Parse(typeDecl.RawComment);
                AddFields(fieldType.Canonical, recordName, bitOffset, path, innerDoc ?? doc, fields);
                continue;
            }

            if (typeDecl.Kind is CXCursorKind.CXCursor_StructDecl or CXCursorKind.CXCursor_UnionDecl && typeDecl.IsAnonymous)
            {
                throw new ExtractionException(
                    $"{recordName}.{field.Spelling}: a named member of an unnamed struct/union type is not supported; give the type a tag");
            }

            TypeRef typeRef = ResolveType(fieldType, $"{recordName}.{field.Spelling}");
            long size = fieldType.SizeOf;

            // Zero-size members (GNU empty structs inside __DECLARE_FLEX_ARRAY) occupy nothing.
            if (size == 0 && !typeRef.IsFlexibleArray)
            {
                continue;
            }

            bool isBitField = field.IsBitField;
            string name = field.Spelling;
            fields.Add(new FieldDecl
            {
                Name = name,
                Offset = checked((int)(bitOffset / 8)),
                Size = typeRef.IsFlexibleArray ? 0 : checked((int)size),
                Type = typeRef,
                BitOffset = isBitField ? checked((int)bitOffset) : null,
                BitWidth = isBitField ? field.BitWidth : null,
                IsAligned = field.HasChild(CXCursorKind.CXCursor_AlignedAttr),
                Anonymous = anonymousPath,
                Doc = doc?.MemberText(name) ?? KernelDoc.PlainText(field.RawComment),
            });
        }
    }
}
