using System.Buffers.Binary;
using System.Text;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>Builds raw frames for tests, including ones the protocol forbids.</summary>
internal static class FrameBuilder
{
    public static readonly uint DefaultMask = 0x5A3C_9E17;

    public static byte[] Frame(Opcode opcode, ReadOnlySpan<byte> payload, bool fin = true, bool masked = true, byte rsv = 0, uint? mask = null)
    {
        uint key = mask ?? DefaultMask;
        int headerLength = FrameHeader.GetLength(payload.Length, masked);
        var frame = new byte[headerLength + payload.Length];
        FrameHeader.Write(frame, opcode, fin, payload.Length, masked, key, rsv);
        payload.CopyTo(frame.AsSpan(headerLength));
        if (masked)
        {
            Masking.Apply(frame.AsSpan(headerLength), key, 0);
        }

        return frame;
    }

    /// <summary>A frame with any opcode value, including reserved ones.</summary>
    public static byte[] RawOpcode(int opcode, ReadOnlySpan<byte> payload, bool fin = true)
    {
        byte[] frame = Frame(Opcode.Binary, payload, fin);
        frame[0] = (byte)((frame[0] & 0xF0) | opcode);
        return frame;
    }

    public static byte[] Text(string text, bool fin = true) => Frame(Opcode.Text, Encoding.UTF8.GetBytes(text), fin);

    public static byte[] Close(int code, string reason = "")
    {
        byte[] reasonBytes = Encoding.UTF8.GetBytes(reason);
        var payload = new byte[2 + reasonBytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        reasonBytes.CopyTo(payload, 2);
        return Frame(Opcode.Close, payload);
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
