using System.Buffers;
using Tern.Protocol;

namespace Tern;

/// <summary>
/// The encodings of one broadcast message: the plain frame, and a compressed frame per window size, each made once, on
/// first need, and sent as the same bytes to every connection that negotiated those settings without context takeover
/// (RFC 7692 lets any such connection read a message that refers to nothing before it). One instance per thread is
/// reused, so a broadcast allocates nothing.
/// </summary>
internal sealed class BroadcastFrames
{
    [ThreadStatic]
    private static BroadcastFrames? t_cached;

    private readonly byte[]?[] _compressed = new byte[]?[16];
    private readonly int[] _compressedLengths = new int[16];
    private byte[] _plain = [];
    private int _plainLength;
    private int _headerLength;
    private int _level;

    public Opcode Opcode { get; private set; }

    /// <summary>The message, uncompressed.</summary>
    public ReadOnlySpan<byte> Payload => _plain.AsSpan(_headerLength, _plainLength - _headerLength);

    /// <summary>Encodes the plain frame now; compressed ones wait until a connection needs one.</summary>
    /// <param name="opcode">Text or binary.</param>
    /// <param name="payload">The message.</param>
    /// <param name="level">The server's compression level (unused when compression is off).</param>
    public static BroadcastFrames Rent(Opcode opcode, ReadOnlySpan<byte> payload, int level)
    {
        BroadcastFrames frames = t_cached ?? new BroadcastFrames();
        t_cached = null;
        frames.Opcode = opcode;
        frames._level = level;
        frames._plain = ArrayPool<byte>.Shared.Rent(FrameWriter.GetFrameLength(payload.Length, masked: false));
        frames._plainLength = FrameWriter.WriteFrame(frames._plain, opcode, payload);
        frames._headerLength = frames._plainLength - payload.Length;
        return frames;
    }

    /// <summary>The frame for a connection with this compressor (null: none negotiated).</summary>
    public ReadOnlySpan<byte> FrameFor(MessageCompressor? compressor)
    {
        if (compressor is null || !compressor.ShouldCompress(Payload.Length))
        {
            return _plain.AsSpan(0, _plainLength);
        }

        int bits = compressor.WindowBits;
        if (_compressed[bits] is null)
        {
            byte[] compressed = MessageCompressor.CompressAlone(Payload, _level, bits, out int length);
            try
            {
                byte[] frame = ArrayPool<byte>.Shared.Rent(FrameWriter.GetFrameLength(length, masked: false));
                _compressedLengths[bits] = FrameWriter.WriteFrame(frame, Opcode, compressed.AsSpan(0, length), compressed: true);
                _compressed[bits] = frame;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(compressed);
            }
        }

        return _compressed[bits].AsSpan(0, _compressedLengths[bits]);
    }

    /// <summary>Gives the buffers back and keeps this instance for the thread's next broadcast.</summary>
    public void Return()
    {
        ArrayPool<byte>.Shared.Return(_plain);
        _plain = [];
        for (int i = 0; i < _compressed.Length; i++)
        {
            if (_compressed[i] is { } frame)
            {
                ArrayPool<byte>.Shared.Return(frame);
                _compressed[i] = null;
            }
        }

        t_cached = this;
    }
}
