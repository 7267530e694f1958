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

    /// <summary>Whether a message sent in fragments goes out compressed: its size is unknown when its first frame leaves,
    /// so the size threshold does not apply, only the window size zlib can work with.</summary>
    public bool CompressesFragments => WindowBits >= MinimumWindowBits;

    /// <summary>
    /// The deflater for one message sent in fragments: this connection's own under context takeover, else one borrowed
    /// from the pool for the message's duration. Give it back with <see cref="EndFragmentedMessage"/>.
    /// </summary>
    public Deflater BeginFragmentedMessage() => KeepsContext ? _own ??= new Deflater(_level, WindowBits) : ZLibPool.RentDeflater(_level, WindowBits);

    /// <summary>
    /// Ends a fragmented message's use of <paramref name="deflater"/>. One borrowed from the pool goes back only when the
    /// message was completed (its last fragment full-flushed, so nothing refers back); one abandoned mid-message is freed.
    /// </summary>
    public void EndFragmentedMessage(Deflater deflater, bool completed)
    {
        if (KeepsContext)
        {
            return;
        }

        if (completed)
        {
            ZLibPool.Return(deflater);
        }
        else
        {
            deflater.Dispose();
        }
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
