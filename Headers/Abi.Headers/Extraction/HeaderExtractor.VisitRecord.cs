using Abi.Headers.Interop.Libclang;
using Abi.Model;

namespace Abi.Headers.Extraction;

public sealed partial class HeaderExtractor
{
    // Records by USR (every declaration has one, unnamed ones included): the name given, and
    // whether the record has been described yet.
    private readonly Dictionary<string, string> _recordNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _recordsDone = new(StringComparer.Ordinal);
    private readonly HashSet<string> _takenNames = new(StringComparer.Ordinal);

    private void VisitRecord(CXCursor cursor)
    {
        // Named records declared inside another record are file-scope in C; find them too, at any
        // depth: inside an untagged member's record as well, which is described through its member
        // and leads here only to what it declares (a member of a size-0 type is left out, so its
        // tagged type would otherwise go unseen).
        foreach (CXCursor child in cursor.Children())
        {
            if (child.Kind is CXCursorKind.CXCursor_StructDecl or CXCursorKind.CXCursor_UnionDecl)
            {
                VisitRecord(child);
            }
        }

        if (cursor.IsDefinition && !IsTagless(cursor) && IsEmitted(cursor))
        {
            RecordNameOf(cursor, cursor.Spelling, cType: null);
        }
    }

    /// <summary>
    /// The model's name for a record declaration, describing it on first sight. A tagged record keeps
    /// its tag. An untagged one takes <paramref name="suggested"/> (its typedef name, or
    /// <c>outer_member</c>), made unique with a numeric suffix; <paramref name="cType"/> says how C reaches it.
    /// </summary>
    private string RecordNameOf(CXCursor decl, string suggested, string? cType)
    {
        string usr = decl.Usr;
        string key = usr.Length > 0 ? usr : LocationOf(decl) + "#" + decl.Spelling;
        if (!_recordNames.TryGetValue(key, out string? name))
        {
            bool tagless = IsTagless(decl);
            name = tagless ? Unique(suggested) : decl.Spelling;
            _takenNames.Add(name);
            _recordNames[key] = name;
            if (decl.IsDefinition && _recordsDone.Add(key))
            {
                DescribeRecord(decl, name, tagless ? cType : null);
            }
        }

        return name;
    }

    private string Unique(string suggested)
    {
        string name = suggested;
        for (int n = 1; _takenNames.Contains(name); n++)
        {
            name = $"{suggested}_{n}";
        }

        return name;
    }

    private void DescribeRecord(CXCursor cursor, string name, string? cType)
    {
        string location = LocationOf(cursor);
        string keyword = cursor.Kind == CXCursorKind.CXCursor_UnionDecl ? "union" : "struct";
        string access = cType ?? $"{keyword} {name}";
        CXType type = cursor.Type;
        long size = type.SizeOf;
        if (size < 0)
        {
            Note(ExtractionNoteKind.Skipped, location, $"{keyword} {name}", $"clang gives it no layout (error {size}): an incomplete or dependent type");
            return;
        }

        KernelDoc? doc = KernelDoc.Parse(cursor.RawComment);
        var fields = new List<FieldDecl>();
        AddFields(type, name, access, baseBitOffset: 0, anonymousPath: null, doc, fields);

        _records.Add(new RecordDecl
        {
            Name = name,
            Kind = cursor.Kind == CXCursorKind.CXCursor_UnionDecl ? RecordKind.Union : RecordKind.Struct,
            Location = location,
            Size = checked((int)size),
            Alignment = checked((int)type.AlignOf),
            IsPacked = cursor.HasChild(CXCursorKind.CXCursor_PackedAttr),
            CType = cType,
            Fields = fields.ToEquatableArray(),
            Doc = doc?.ToDocComment(),
        });
    }

    /// <summary>
    /// Adds the fields of <paramref name="recordType"/>, descending into anonymous members.
    /// libclang's field offsets are relative to the immediate record, so the anonymous member's
    /// own offset is carried down in <paramref name="baseBitOffset"/>. <paramref name="access"/> is
    /// the C type of the outermost record, through which every flattened member is reachable.
    /// </summary>
    private void AddFields(CXType recordType, string recordName, string access, long baseBitOffset, string? anonymousPath, KernelDoc? doc, List<FieldDecl> fields)
    {
        foreach (CXCursor field in recordType.Fields())
        {
            long bitOffset = baseBitOffset + field.OffsetOfField;
            CXType fieldType = field.Type;
            CXCursor typeDecl = fieldType.Canonical.Declaration;
            string name = field.Spelling;
            bool isBitField = field.IsBitField;

            // An unnamed bitfield only pads (or, at width 0, aligns): it has no member to describe,
            // and every offset around it is explicit.
            if (isBitField && (name.Length == 0 || field.IsAnonymous))
            {
                continue;
            }

            // An anonymous struct/union member: the field has no name of its own (libclang 14 spells
            // it "", libclang 19 spells the type), so ask whether the record is anonymous instead.
            if (typeDecl.Kind is CXCursorKind.CXCursor_StructDecl or CXCursorKind.CXCursor_UnionDecl && typeDecl.IsAnonymousRecordDecl)
            {
                string kind = typeDecl.Kind == CXCursorKind.CXCursor_UnionDecl ? "union" : "struct";
                string path = (anonymousPath is null ? string.Empty : anonymousPath + "/") + $"{kind}@{bitOffset / 8}";
                KernelDoc? innerDoc = KernelDoc.Parse(typeDecl.RawComment);
                AddFields(fieldType.Canonical, recordName, access, bitOffset, path, innerDoc ?? doc, fields);
                continue;
            }

            long size = fieldType.SizeOf;

            // Zero-size members (the GNU empty struct inside __DECLARE_FLEX_ARRAY) occupy nothing.
            if (size == 0 && fieldType.Canonical.Kind is CXTypeKind.CXType_Record)
            {
                continue;
            }

            string where = $"{recordName}.{name}";
            if (ResolveType(fieldType, where, LocationOf(field), $"{recordName}_{name}", $"__typeof__((({access} *)0)->{name}") is not TypeRef typeRef)
            {
                continue;
            }

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
