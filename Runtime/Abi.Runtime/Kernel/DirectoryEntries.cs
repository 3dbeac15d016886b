using System.Buffers.Binary;
using System.Text;

namespace Abi.Runtime.Kernel;

/// <summary>
/// The records <c>getdents64(2)</c> fills a buffer with (<c>struct linux_dirent64</c>: u64 d_ino,
/// s64 d_off, u16 d_reclen, u8 d_type, the NUL-terminated name, padded to 8 bytes), read and written.
/// </summary>
public static class DirectoryEntries
{
    /// <summary>d_type of a directory (DT_DIR).</summary>
    public const byte Directory = 4;

    /// <summary>d_type of a regular file (DT_REG).</summary>
    public const byte Regular = 8;

    /// <summary>d_type of a symbolic link (DT_LNK).</summary>
    public const byte Link = 10;

    private const int NameOffset = 19;

    /// <summary>Bytes one record with <paramref name="name"/> takes.</summary>
    public static int Size(ReadOnlySpan<byte> name) => (NameOffset + name.Length + 1 + 7) & ~7;

    /// <summary>Writes one record at the start of <paramref name="destination"/>; returns its size, or 0 when it does not fit.</summary>
    public static int Write(Span<byte> destination, ulong inode, long nextOffset, byte type, ReadOnlySpan<byte> name)
    {
        int size = Size(name);
        if (size > destination.Length)
        {
            return 0;
        }

        Span<byte> record = destination[..size];
        record.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(record, inode);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], nextOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(record[16..], (ushort)size);
        record[18] = type;
        name.CopyTo(record[NameOffset..]);
        return size;
    }

    /// <summary>The names and types in <paramref name="records"/> (what one getdents64 call returned).</summary>
    public static IEnumerable<(string Name, byte Type)> Read(byte[] records, int length)
    {
        for (int at = 0; at + NameOffset < length;)
        {
            int size = BinaryPrimitives.ReadUInt16LittleEndian(records.AsSpan(at + 16));
            if (size < NameOffset + 1 || at + size > length)
            {
                yield break;
            }

            ReadOnlySpan<byte> name = records.AsSpan(at + NameOffset, size - NameOffset);
            int nul = name.IndexOf((byte)0);
            yield return (Encoding.UTF8.GetString(nul < 0 ? name : name[..nul]), records[at + 18]);
            at += size;
        }
    }
}
