using System.Buffers;
using System.Security.Cryptography;

namespace Tern.Protocol;

/// <summary>
/// Encodes frames (RFC 6455 §5.2): the header, the masking a client applies, RSV1 for a compressed message
/// (RFC 7692 §6), and close payloads. The one place frames are written: connection sends, broadcast and the client
/// all come here.
/// </summary>
public static class FrameWriter
{
    /// <summary>Large hints mean fewer, larger output segments, and so fewer socket sends for big messages.</summary>
    private const int ChunkSize = 64 * 1024;

    /// <summary>The bytes a whole frame takes on the wire: header and payload.</summary>
    public static int GetFrameLength(int payloadLength, bool masked) => FrameHeader.GetLength(payloadLength, masked) + payloadLength;

    /// <summary>
    /// Writes one frame into <paramref name="output"/>: the header, then the payload (masked with
    /// <paramref name="maskKey"/> when <paramref name="masked"/>), in chunks so a large payload needs no contiguous copy.
    /// </summary>
    /// <param name="output">Where the frame goes.</param>
    /// <param name="opcode">The frame's opcode.</param>
    /// <param name="payload">The payload, not yet masked.</param>
    /// <param name="fin">Whether this is the message's last frame.</param>
    /// <param name="compressed">Sets RSV1: the first frame of a permessage-deflate compressed message.</param>
    /// <param name="masked">True for frames a client sends.</param>
    /// <param name="maskKey">The masking key (see <see cref="MaskKeyGenerator"/>).</param>
    public static void WriteFrame(IBufferWriter<byte> output, Opcode opcode, ReadOnlySpan<byte> payload, bool fin = true,
        bool compressed = false, bool masked = false, uint maskKey = 0)
    {
        int headerLength = FrameHeader.GetLength(payload.Length, masked);
        FrameHeader.Write(output.GetSpan(headerLength), opcode, fin, payload.Length, masked, maskKey, Rsv(compressed));
        output.Advance(headerLength);
        int keyOffset = 0;
        while (!payload.IsEmpty)
        {
            Span<byte> target = output.GetSpan(Math.Min(payload.Length, ChunkSize));
            int chunk = Math.Min(target.Length, payload.Length);
            if (masked)
            {
                keyOffset = Masking.Apply(payload[..chunk], target, maskKey, keyOffset);
            }
            else
            {
                payload[..chunk].CopyTo(target);
            }

            output.Advance(chunk);
            payload = payload[chunk..];
        }
    }

    /// <summary>
    /// Writes an unmasked frame into <paramref name="destination"/> (at least <see cref="GetFrameLength"/> bytes) and
    /// returns its length: a server frame encoded once for many receivers.
    /// </summary>
    public static int WriteFrame(Span<byte> destination, Opcode opcode, ReadOnlySpan<byte> payload, bool fin = true, bool compressed = false)
    {
        int headerLength = FrameHeader.Write(destination, opcode, fin, payload.Length, rsv: Rsv(compressed));
        payload.CopyTo(destination[headerLength..]);
        return headerLength + payload.Length;
    }

    /// <summary>
    /// Writes a close frame. <see cref="WebSocketCloseCode.NoStatusReceived"/> (1005, never on the wire) means a close
    /// frame with no payload at all: the answer to a peer's close that carried no code (RFC 6455 §7.4.1).
    /// </summary>
    public static void WriteClose(IBufferWriter<byte> output, WebSocketCloseCode code, string? reason, bool masked = false, uint maskKey = 0)
    {
        Span<byte> payload = stackalloc byte[FrameHeader.MaxControlPayload];
        int length = code == WebSocketCloseCode.NoStatusReceived ? 0 : CloseFrame.WritePayload(payload, code, reason);
        WriteFrame(output, Opcode.Close, payload[..length], fin: true, compressed: false, masked, maskKey);
    }

    /// <summary>RSV1 is the permessage-deflate bit; RSV2 and RSV3 are never set.</summary>
    private static byte Rsv(bool compressed) => compressed ? (byte)0b100 : (byte)0;
}

/// <summary>
/// Masking keys for the frames a client sends. They need not be secret from the peer, only unpredictable to scripts on
/// the path (RFC 6455 §10.3), so a cryptographically seeded xorshift per connection is enough and never blocks.
/// </summary>
public struct MaskKeyGenerator
{
    private ulong _state;

    /// <summary>A generator seeded from the system's cryptographic random source.</summary>
    public static MaskKeyGenerator Create()
    {
        Span<byte> seed = stackalloc byte[8];
        RandomNumberGenerator.Fill(seed);
        return new MaskKeyGenerator { _state = BitConverter.ToUInt64(seed) | 1 };
    }

    /// <summary>The next key.</summary>
    public uint Next()
    {
        ulong x = _state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        _state = x;
        return (uint)(x >> 16);
    }
}
