using System.Buffers.Binary;

namespace Abi.Engine.Devices.Virtio;

/// <summary>
/// A pktgen-style traffic source and sink for one NIC. As a source it fills every receive buffer
/// the driver posts (an infinitely fast line, so the measured rate is the driver's and the device
/// model's), with Ethernet/IPv4/UDP frames of a chosen size carrying a sequence number. As a sink
/// it counts what the NIC transmits, and how many of those frames were not addressed to it.
/// </summary>
public sealed class PacketGenerator : IEthernetPeer
{
    /// <summary>Where the 64-bit sequence number sits in every frame (the UDP payload).</summary>
    public const int SequenceOffset = 42;

    private readonly byte[] _template;
    private readonly byte[] _mac;
    private readonly byte[] _lastSource = new byte[6];
    private long _sent, _received, _receivedBytes, _misaddressed;

    /// <summary>Builds the frame template: <paramref name="frameLength"/> bytes (60-1514, without FCS) from <paramref name="sourceMac"/> to <paramref name="destinationMac"/>.</summary>
    public PacketGenerator(int frameLength, ReadOnlySpan<byte> sourceMac, ReadOnlySpan<byte> destinationMac)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, 60);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frameLength, VirtioNetDevice.MaxFrameLength);
        _mac = sourceMac.ToArray();
        _template = new byte[frameLength];
        Span<byte> f = _template;
        destinationMac.CopyTo(f);
        sourceMac.CopyTo(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);         // IPv4
        Span<byte> ip = f[14..34];
        ip[0] = 0x45;                                                   // version 4, 20-byte header
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(frameLength - 14));
        ip[8] = 64;                                                     // TTL
        ip[9] = 17;                                                     // UDP
        ReadOnlySpan<byte> addresses = [198, 18, 0, 1, 198, 18, 0, 2]; // RFC 2544 benchmarking range
        addresses.CopyTo(ip[12..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        Span<byte> udp = f[34..42];
        BinaryPrimitives.WriteUInt16BigEndian(udp, 9);                  // discard
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], 9);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(frameLength - 34));
    }

    /// <summary>Frames to send before stopping (0: no limit).</summary>
    public long Limit { get; set; }

    /// <summary>Frames handed to the NIC.</summary>
    public long Sent => Volatile.Read(ref _sent);

    /// <summary>Frames the NIC transmitted to the generator.</summary>
    public long Received => Volatile.Read(ref _received);

    /// <summary>Bytes of those frames.</summary>
    public long ReceivedBytes => Volatile.Read(ref _receivedBytes);

    /// <summary>Received frames whose destination MAC was not the generator's (a forwarder that did not rewrite addresses).</summary>
    public long Misaddressed => Volatile.Read(ref _misaddressed);

    /// <summary>The source MAC of the last frame received.</summary>
    public ReadOnlySpan<byte> LastSource => _lastSource;

    /// <inheritdoc/>
    public void Receive(ReadOnlySpan<byte> frame)
    {
        _received++;
        _receivedBytes += frame.Length;
        if (frame.Length >= 12)
        {
            frame[6..12].CopyTo(_lastSource);
        }

        if (frame.Length < 6 || !frame[..6].SequenceEqual(_mac))
        {
            _misaddressed++;
        }
    }

    /// <inheritdoc/>
    public bool TryGetFrame(out ReadOnlySpan<byte> frame)
    {
        if (Limit != 0 && _sent >= Limit)
        {
            frame = default;
            return false;
        }

        BinaryPrimitives.WriteInt64BigEndian(_template.AsSpan(SequenceOffset), _sent++);
        frame = _template;
        return true;
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
