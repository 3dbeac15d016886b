using System.Buffers.Binary;
using System.Security.Cryptography;
using Abi.Interop;

namespace Abi.Engine.Vfio;

/// <summary>
/// The VF token of vfio-pci (drivers/vfio/pci/vfio_pci_core.c): a UUID shared by the user of an SR-IOV
/// PF and the users of its VFs, proving they collaborate. A UUID is kept as its 16 bytes in string
/// order (uuid_t), read big-endian into one number.
/// </summary>
internal static class VfTokens
{
    private const string Argument = "vf_token=";
    private const int UuidStringLength = 36;

    /// <summary>uuid_gen: a random (version 4) UUID.</summary>
    public static UInt128 Random()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>A uuid_t read from 16 bytes of user memory.</summary>
    public static UInt128 FromBytes(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadUInt128BigEndian(bytes);

    /// <summary>
    /// vfio_pci_core_match_token_uuid: whether a user presenting <paramref name="uuid"/> (null: none)
    /// may open <paramref name="device"/>. 0, or <c>-EACCES</c> (a token needed, or the wrong one) or
    /// <c>-EINVAL</c> (a token where none is taken). Opening a PF whose VFs nobody uses with a token
    /// sets the token.
    /// </summary>
    public static int Match(EmulatedDevice device, UInt128? uuid)
    {
        if (device.PhysicalFunction is EmulatedDevice physical)
        {
            EmulatedDevice? pf = physical.SriovByVfio ? physical : null;
            if (pf is null)
            {
                return uuid is null ? 0 : -(int)Errno.EINVAL;        // PF not vfio-pci: no token
            }

            lock (pf.Sync)
            {
                return uuid is UInt128 presented && presented == pf.VfToken ? 0 : -(int)Errno.EACCES;
            }
        }

        if (device.VfToken is not null)
        {
            lock (device.Sync)
            {
                if (device.VfTokenUsers > 0)
                {
                    return uuid is UInt128 presented && presented == device.VfToken ? 0 : -(int)Errno.EACCES;
                }

                if (uuid is UInt128 token)
                {
                    device.VfToken = token;
                }
            }

            return 0;
        }

        return uuid is null ? 0 : -(int)Errno.EINVAL;                // not a PF or VF
    }

    /// <summary>
    /// vfio_pci_core_match, for VFIO_GROUP_GET_DEVICE_FD's name: 1 when <paramref name="name"/> is the
    /// device's address, optionally followed by spaces and one <c>vf_token=&lt;uuid&gt;</c> that
    /// <see cref="Match"/> accepts; 0 when it names another device; a negative errno otherwise.
    /// </summary>
    public static int MatchName(EmulatedDevice device, ReadOnlySpan<byte> name)
    {
        ReadOnlySpan<byte> own = System.Text.Encoding.ASCII.GetBytes(device.PciName);
        if (!name.StartsWith(own))
        {
            return 0;
        }

        UInt128? uuid = null;
        ReadOnlySpan<byte> rest = name[own.Length..];
        if (!rest.IsEmpty)
        {
            if (rest[0] != (byte)' ')
            {
                return 0;                                              // more than the name: another device
            }

            while (!rest.IsEmpty)
            {
                if (rest[0] == (byte)' ')
                {
                    rest = rest[1..];
                    continue;
                }

                if (uuid is not null || !rest.StartsWith("vf_token="u8))
                {
                    return -(int)Errno.EINVAL;                         // an unknown or repeated option
                }

                rest = rest[Argument.Length..];
                if (rest.Length < UuidStringLength || Parse(rest[..UuidStringLength]) is not UInt128 parsed)
                {
                    return -(int)Errno.EINVAL;
                }

                uuid = parsed;
                rest = rest[UuidStringLength..];
            }
        }

        int rc = Match(device, uuid);
        return rc < 0 ? rc : 1;
    }

    // uuid_parse: hyphens at 8, 13, 18 and 23, hex digits elsewhere.
    private static UInt128? Parse(ReadOnlySpan<byte> text)
    {
        UInt128 value = 0;
        for (int i = 0; i < UuidStringLength; i++)
        {
            if (i is 8 or 13 or 18 or 23)
            {
                if (text[i] != (byte)'-')
                {
                    return null;
                }

                continue;
            }

            int digit = HexDigit(text[i]);
            if (digit < 0)
            {
                return null;
            }

            value = (value << 4) | (uint)digit;
        }

        return value;
    }

    private static int HexDigit(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}
