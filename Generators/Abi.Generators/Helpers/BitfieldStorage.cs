using Abi.Model;

namespace Abi.Generators.Helpers;

/// <summary>
/// Where a bitfield's bits are read and written in C#: an integer of 1, 2, 4 or 8 bytes that holds
/// every bit of the field and lies inside the record. The declared type's unit, aligned as the
/// type is, serves every natural layout; packing (<c>__attribute__((packed))</c>, <c>#pragma
/// pack</c>) lets gcc place bits across that unit or past the record's end, and then the smallest
/// integer over the bytes the bits touch serves, moved back from the record's end if it would
/// reach past it (explicit layout allows any offset). A field that no such integer holds (a 64-bit
/// field starting inside a byte spans nine) has no accessor.
/// </summary>
internal static class BitfieldStorage
{
    private static readonly int[] s_sizes = [1, 2, 4, 8];

    public static bool TryPlace(FieldDecl field, int recordSize, out int unitOffset, out int unitSize)
    {
        int width = field.BitWidth ?? 0, bit = field.BitOffset ?? 0;
        if (field.Size is 1 or 2 or 4 or 8)
        {
            unitSize = field.Size;
            unitOffset = bit / (unitSize * 8) * unitSize;
            if (unitOffset + unitSize <= recordSize && bit - (unitOffset * 8) + width <= unitSize * 8)
            {
                return true;
            }
        }

        int first = bit / 8, last = (bit + width - 1) / 8;
        foreach (int size in s_sizes)
        {
            if (size >= last - first + 1 && size <= recordSize)
            {
                unitSize = size;
                unitOffset = System.Math.Min(first, recordSize - size);
                return true;
            }
        }

        unitOffset = unitSize = 0;
        return false;
    }
}
