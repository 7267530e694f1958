using System.Buffers;
using System.Buffers.Binary;

namespace Tern.Protocol;

/// <summary>Frame opcodes (RFC 6455 §5.2). 3–7 and 11–15 are reserved.</summary>
public enum Opcode : byte
{
    /// <summary>Continues a fragmented message.</summary>
    Continuation = 0x0,
    /// <summary>First frame of a text message.</summary>
    Text = 0x1,
    /// <summary>First frame of a binary message.</summary>
    Binary = 0x2,
    /// <summary>Close control frame.</summary>
    Close = 0x8,
    /// <summary>Ping control frame.</summary>
    Ping = 0x9,
    /// <summary>Pong control frame.</summary>
    Pong = 0xA,
}

/// <summary>A decoded frame header (RFC 6455 §5.2): everything before the payload.</summary>
public readonly record struct FrameHeader(bool Fin, byte Rsv, Opcode Opcode, bool Masked, long PayloadLength, uint MaskKey)
{
    /// <summary>The longest header on the wire: 2 bytes, 8 of extended length and 4 of masking key.</summary>
    public const int MaxLength = 14;

    /// <summary>The largest payload a control frame may carry.</summary>
    public const int MaxControlPayload = 125;

    /// <summary>True for close, ping and pong.</summary>
    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    /// <summary>The number of header bytes for a frame with this payload length, masked or not.</summary>
    public static int GetLength(long payloadLength, bool masked) =>
        (payloadLength <= 125 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10) + (masked ? 4 : 0);

    /// <summary>
    /// Reads a header from the start of <paramref name="input"/>. Returns false when more bytes are needed
    /// (nothing is consumed). Does not judge the header against the protocol's rules, except for the 64-bit length's
    /// top bit, which RFC 6455 requires to be 0: such a header is reported through <paramref name="lengthInvalid"/>.
    /// </summary>
    public static bool TryRead(in ReadOnlySequence<byte> input, out FrameHeader header, out int headerLength, out bool lengthInvalid)
    {
        header = default;
        headerLength = 0;
        lengthInvalid = false;
        if (input.Length < 2)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[MaxLength];
        ReadOnlySpan<byte> first = input.FirstSpan;
        if (first.Length >= 2)
        {
            bytes[0] = first[0];
            bytes[1] = first[1];
        }
        else
        {
            input.Slice(0, 2).CopyTo(bytes);
        }

        bool masked = (bytes[1] & 0x80) != 0;
        int length7 = bytes[1] & 0x7F;
        int extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
        int needed = 2 + extended + (masked ? 4 : 0);
        if (input.Length < needed)
        {
            return false;
        }

        if (first.Length >= needed)
        {
            first[..needed].CopyTo(bytes);
        }
        else
        {
            input.Slice(0, needed).CopyTo(bytes);
        }

        long payloadLength = extended switch
        {
            0 => length7,
            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]),
            _ => (long)BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]),
        };
        if (payloadLength < 0)
        {
            lengthInvalid = true;
            payloadLength = long.MaxValue;
        }

        uint maskKey = masked ? BinaryPrimitives.ReadUInt32LittleEndian(bytes[(2 + extended)..]) : 0;
        header = new FrameHeader(
            Fin: (bytes[0] & 0x80) != 0,
            Rsv: (byte)((bytes[0] >> 4) & 0x7),
            Opcode: (Opcode)(bytes[0] & 0x0F),
            Masked: masked,
            PayloadLength: payloadLength,
            MaskKey: maskKey);
        headerLength = needed;
        return true;
    }

    /// <summary>
    /// Writes a header into <paramref name="destination"/> (at least <see cref="GetLength"/> bytes) and returns its length.
    /// A masked header carries <paramref name="maskKey"/> in the same byte order as <see cref="Masking.Apply(Span{byte}, uint, int)"/> expects.
    /// </summary>
    public static int Write(Span<byte> destination, Opcode opcode, bool fin, long payloadLength, bool masked = false, uint maskKey = 0, byte rsv = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        destination[0] = (byte)((fin ? 0x80 : 0) | (rsv << 4) | (byte)opcode);
        byte maskBit = masked ? (byte)0x80 : (byte)0;
        int offset;
        if (payloadLength <= 125)
        {
            destination[1] = (byte)(maskBit | payloadLength);
            offset = 2;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            offset = 4;
        }
        else
        {
            destination[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
            offset = 10;
        }

        if (masked)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[offset..], maskKey);
            offset += 4;
        }

        return offset;
    }
}
