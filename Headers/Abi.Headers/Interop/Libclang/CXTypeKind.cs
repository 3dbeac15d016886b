namespace Abi.Headers.Interop.Libclang;

/// <summary>The type kinds the extractor meets (values from clang-c/Index.h).</summary>
internal enum CXTypeKind
{
    CXType_Invalid = 0,
    CXType_Void = 2,
    CXType_Bool = 3,
    CXType_Char_U = 4,
    CXType_UChar = 5,
    CXType_UShort = 8,
    CXType_UInt = 9,
    CXType_ULong = 10,
    CXType_ULongLong = 11,
    CXType_Char_S = 13,
    CXType_SChar = 14,
    CXType_Short = 16,
    CXType_Int = 17,
    CXType_Long = 18,
    CXType_LongLong = 19,
    CXType_Float = 21,
    CXType_Double = 22,
    CXType_Pointer = 101,
    CXType_Record = 105,
    CXType_Enum = 106,
    CXType_Typedef = 107,
    CXType_ConstantArray = 112,
    CXType_IncompleteArray = 114,
    CXType_Elaborated = 119,
}
