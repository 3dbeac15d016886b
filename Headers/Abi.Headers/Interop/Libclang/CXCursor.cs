using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

/// <summary>A cursor into the AST; the conveniences a walker needs are properties here.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly unsafe struct CXCursor
{
    public readonly CXCursorKind Kind;
    private readonly int _xdata;
    private readonly nint _data0;
    private readonly nint _data1;
    private readonly nint _data2;

    public string Spelling => Libclang.TakeString(Libclang.clang_getCursorSpelling(this));

    public CXType Type => Libclang.clang_getCursorType(this);

    public bool IsNull => Libclang.clang_Cursor_isNull(this) != 0;

    public bool IsAnonymous => Libclang.clang_Cursor_isAnonymous(this) != 0;

    public bool IsAnonymousRecordDecl => Libclang.clang_Cursor_isAnonymousRecordDecl(this) != 0;

    public bool IsDefinition => Libclang.clang_isCursorDefinition(this) != 0;

    public bool IsBitField => Libclang.clang_Cursor_isBitField(this) != 0;

    public int BitWidth => Libclang.clang_getFieldDeclBitWidth(this);

    /// <summary>The field's bit offset within its immediate parent record.</summary>
    public long OffsetOfField => Libclang.clang_Cursor_getOffsetOfField(this);

    public bool IsMacroFunctionLike => Libclang.clang_Cursor_isMacroFunctionLike(this) != 0;

    public bool IsInvalidDeclaration => Libclang.clang_isInvalidDeclaration(this) != 0;

    public string RawComment => Libclang.TakeString(Libclang.clang_Cursor_getRawCommentText(this));

    /// <summary>The Unified Symbol Resolution: one key per declaration, also for unnamed records.</summary>
    public string Usr => Libclang.TakeString(Libclang.clang_getCursorUSR(this));

    public CXType TypedefUnderlyingType => Libclang.clang_getTypedefDeclUnderlyingType(this);

    public CXType EnumIntegerType => Libclang.clang_getEnumDeclIntegerType(this);

    public long EnumConstantValue => Libclang.clang_getEnumConstantDeclValue(this);

    public ulong EnumConstantUnsignedValue => Libclang.clang_getEnumConstantDeclUnsignedValue(this);

    public CXSourceRange Extent => Libclang.clang_getCursorExtent(this);

    /// <summary>Where the cursor's text begins, after macro expansion is undone.</summary>
    public (string File, int Line) Location
    {
        get
        {
            nint file;
            uint line, column, offset;
            Libclang.clang_getExpansionLocation(Libclang.clang_getCursorLocation(this), &file, &line, &column, &offset);
            return (file == 0 ? string.Empty : Libclang.TakeString(Libclang.clang_getFileName(file)), (int)line);
        }
    }

    /// <summary>The direct children, in order.</summary>
    public List<CXCursor> Children()
    {
        var children = new List<CXCursor>();
        GCHandle handle = GCHandle.Alloc(children);
        try
        {
            _ = Libclang.clang_visitChildren(this, &Libclang.CollectChild, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }

        return children;
    }

    public bool HasChild(CXCursorKind kind) => Children().Exists(c => c.Kind == kind);

    public override string ToString() => $"{Kind} {Spelling}";
}
