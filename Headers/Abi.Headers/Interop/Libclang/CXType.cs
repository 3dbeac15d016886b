using System.Runtime.InteropServices;

namespace Abi.Headers.Interop.Libclang;

/// <summary>A type in the AST; the conveniences the walker needs are properties here.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly unsafe struct CXType
{
    public readonly CXTypeKind Kind;
    private readonly nint _data0;
    private readonly nint _data1;

    public string Spelling => Libclang.TakeString(Libclang.clang_getTypeSpelling(this));

    public CXType Canonical => Libclang.clang_getCanonicalType(this);

    /// <summary>sizeof in bytes, or a negative <c>CXTypeLayoutError</c>.</summary>
    public long SizeOf => Libclang.clang_Type_getSizeOf(this);

    public long AlignOf => Libclang.clang_Type_getAlignOf(this);

    public CXType ArrayElementType => Libclang.clang_getArrayElementType(this);

    public long ArraySize => Libclang.clang_getArraySize(this);

    public CXType PointeeType => Libclang.clang_getPointeeType(this);

    public CXCursor Declaration => Libclang.clang_getTypeDeclaration(this);

    /// <summary>The fields of a record type in order, including the unnamed fields of anonymous members.</summary>
    public List<CXCursor> Fields()
    {
        var fields = new List<CXCursor>();
        GCHandle handle = GCHandle.Alloc(fields);
        try
        {
            _ = Libclang.clang_Type_visitFields(this, &Libclang.CollectField, GCHandle.ToIntPtr(handle));
        }
        finally
        {
            handle.Free();
        }

        return fields;
    }

    public override string ToString() => $"{Kind} {Spelling}";
}
