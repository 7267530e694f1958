using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Tern.Tests.Conformance;

/// <summary>Opcodes as plain numbers, so that cases can send the reserved ones too.</summary>
internal static class Op
{
    public const int Continuation = 0x0;
    public const int Text = 0x1;
    public const int Binary = 0x2;
    public const int Close = 0x8;
    public const int Ping = 0x9;
    public const int Pong = 0xA;

    public static bool IsControl(int opcode) => opcode >= 0x8;

    public static bool IsDefined(int opcode) => opcode is Continuation or Text or Binary or Close or Ping or Pong;

    public static string Name(int opcode) => opcode switch
    {
        Continuation => "continuation",
        Text => "text",
        Binary => "binary",
        Close => "close",
        Ping => "ping",
        Pong => "pong",
        _ => $"reserved opcode {opcode}",
    };
}

/// <summary>
/// Encodes client frames for the conformance cases, written independently of Tern's own encoder and masking so that a
/// bug shared by both sides cannot cancel itself out. Any frame can be built, including the ones RFC 6455 forbids.
/// </summary>
internal static class WireFrame
{
    /// <summary>Builds one frame: minimal length form, masked with a fresh key whose four bytes are all non-zero (so an
    /// unmasking bug always shows), unless <paramref name="masked"/> is false.</summary>
    public static byte[] Encode(int opcode, ReadOnlySpan<byte> payload, bool fin = true, int rsv = 0, bool masked = true)
    {
        int lengthBytes = payload.Length <= 125 ? 0 : payload.Length <= ushort.MaxValue ? 2 : 8;
        int headerLength = 2 + lengthBytes + (masked ? 4 : 0);
        var frame = new byte[headerLength + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | (opcode & 0xF));
        byte maskBit = masked ? (byte)0x80 : (byte)0;
        switch (lengthBytes)
        {
            case 0:
                frame[1] = (byte)(maskBit | payload.Length);
                break;
            case 2:
                frame[1] = (byte)(maskBit | 126);
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
                break;
            default:
                frame[1] = (byte)(maskBit | 127);
                BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
                break;
        }

        Span<byte> body = frame.AsSpan(headerLength);
        payload.CopyTo(body);
        if (masked)
        {
            Span<byte> key = frame.AsSpan(2 + lengthBytes, 4);
            BinaryPrimitives.WriteUInt32LittleEndian(key, (uint)Random.Shared.Next() | 0x0101_0101);
            ApplyMask(body, key);
        }

        return frame;
    }

    public static byte[] Text(string text, bool fin = true) => Encode(Op.Text, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Binary(ReadOnlySpan<byte> data, bool fin = true) => Encode(Op.Binary, data, fin);

    public static byte[] Continuation(string text, bool fin) => Encode(Op.Continuation, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Ping(string payload = "") => Encode(Op.Ping, Encoding.UTF8.GetBytes(payload));

    public static byte[] Pong(string payload = "") => Encode(Op.Pong, Encoding.UTF8.GetBytes(payload));

    /// <summary>A close frame with a status code and a reason given as raw bytes (possibly invalid UTF-8, possibly too long).</summary>
    public static byte[] Close(int code, ReadOnlySpan<byte> reason = default)
    {
        var payload = new byte[2 + reason.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        reason.CopyTo(payload.AsSpan(2));
        return Encode(Op.Close, payload);
    }

    public static byte[] Close(int code, string reason) => Close(code, Encoding.UTF8.GetBytes(reason));

    /// <summary>
    /// A data message split into frames of <paramref name="fragmentSize"/> bytes (the last may be shorter), all in one
    /// buffer; <paramref name="firstRsv"/> goes on the first frame only (RSV1 for a compressed message, RFC 7692 §6.1).
    /// </summary>
    public static byte[] Fragmented(int opcode, ReadOnlySpan<byte> payload, int fragmentSize, int firstRsv = 0)
    {
        var frames = new List<byte[]>();
        int offset = 0;
        do
        {
            int length = Math.Min(fragmentSize, payload.Length - offset);
            bool last = offset + length == payload.Length;
            frames.Add(offset == 0
                ? Encode(opcode, payload[..length], fin: last, rsv: firstRsv)
                : Encode(Op.Continuation, payload.Slice(offset, length), fin: last));
            offset += length;
        }
        while (offset < payload.Length);

        return Concat([.. frames]);
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var all = new byte[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (byte[] part in parts)
        {
            part.CopyTo(all, offset);
            offset += part.Length;
        }

        return all;
    }

    private static void ApplyMask(Span<byte> data, ReadOnlySpan<byte> key)
    {
        // Eight bytes at a time with the key repeated, then the tail byte by byte; the key phase restarts at every frame.
        ulong wideKey = BinaryPrimitives.ReadUInt32LittleEndian(key);
        wideKey |= wideKey << 32;
        int wideLength = data.Length / 8 * 8;
        foreach (ref ulong word in MemoryMarshal.Cast<byte, ulong>(data[..wideLength]))
        {
            word ^= BitConverter.IsLittleEndian ? wideKey : BinaryPrimitives.ReverseEndianness(wideKey);
        }

        for (int i = wideLength; i < data.Length; i++)
        {
            data[i] ^= key[i & 3];
        }
    }
}
