using System.Buffers;

namespace Tern.Protocol;

/// <summary>
/// Compresses one connection's outgoing messages as negotiated (RFC 7692 §7.2.1). Without context takeover it holds no
/// zlib state: each message borrows a deflater from <see cref="ZLibPool"/>. With context takeover it keeps its own
/// deflater (~256 KiB with a 15-bit window) for the connection's life. zlib cannot compress with an 8-bit window, so
/// a connection limited to 8 gets every message uncompressed, which RFC 7692 always allows.
/// </summary>
internal sealed class MessageCompressor : IDisposable
{
    /// <summary>The smallest window zlib compresses with (raw deflate refuses 8).</summary>
    public const int MinimumWindowBits = 9;

    private readonly int _level;
    private readonly int _minimumMessageSize;
    private Deflater? _own;

    public MessageCompressor(int level, int windowBits, bool keepContext, int minimumMessageSize)
    {
        _level = level;
        WindowBits = windowBits;
        KeepsContext = keepContext;
        _minimumMessageSize = minimumMessageSize;
    }

    public int WindowBits { get; }

    /// <summary>Whether later messages may refer back to earlier ones: then no other connection can share this one's output.</summary>
    public bool KeepsContext { get; }

    /// <summary>Whether a message of this length goes out compressed.</summary>
    public bool ShouldCompress(int length) => WindowBits >= MinimumWindowBits && length >= _minimumMessageSize;

    /// <summary>Compresses a message into a buffer rented from <see cref="ArrayPool{T}.Shared"/>, which the caller returns.</summary>
    public byte[] Compress(ReadOnlySpan<byte> payload, out int length)
    {
        if (KeepsContext)
        {
            return (_own ??= new Deflater(_level, WindowBits)).Compress(payload, keepContext: true, out length);
        }

        return CompressAlone(payload, _level, WindowBits, out length);
    }

    /// <summary>Compresses a message that refers to nothing before it, with a pooled deflater: the same bytes serve every
    /// connection that negotiated this window size without context takeover.</summary>
    public static byte[] CompressAlone(ReadOnlySpan<byte> payload, int level, int windowBits, out int length)
    {
        Deflater deflater = ZLibPool.RentDeflater(level, windowBits);
        try
        {
            return deflater.Compress(payload, keepContext: false, out length);
        }
        finally
        {
            ZLibPool.Return(deflater);
        }
    }

    public void Dispose()
    {
        _own?.Dispose();
        _own = null;
    }
}
