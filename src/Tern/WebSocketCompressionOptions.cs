namespace Tern;

/// <summary>
/// permessage-deflate (RFC 7692) settings, for a server (<see cref="WebSocketServerOptions.Compression"/>: what it
/// accepts) and for a client (<see cref="WebSocketClientOptions.Compression"/>: what it offers). The defaults keep no
/// compression state on an idle connection; see docs/compression.md for the memory each choice costs.
/// </summary>
/// <remarks>
/// Compression and secrets: a message that holds both a secret (a token, a session id) and text an attacker controls
/// leaks the secret through its compressed size (CRIME, BREACH). Never put both in one compressed message.
/// </remarks>
public sealed class WebSocketCompressionOptions
{
    private int _serverMaxWindowBits = 15;
    private int _clientMaxWindowBits = 15;
    private int _level = 6;
    private int _minimumMessageSize = 1024;

    /// <summary>
    /// Whether the server's compressor keeps its history from one message to the next (better ratios on streams of
    /// similar messages, at the cost of a zlib deflater held by each connection, ~256 KiB with a 15-bit window). False
    /// (the default): each message is compressed on its own by a deflater borrowed from a shared pool, and the server
    /// answers <c>server_no_context_takeover</c>. A client that asks for <c>server_no_context_takeover</c> gets it either way.
    /// </summary>
    public bool ServerContextTakeover { get; set; }

    /// <summary>
    /// Whether the client's compressor may keep its history between messages. False (the default): the server asks for
    /// <c>client_no_context_takeover</c>, so the server's decompressor (~32 KiB) is borrowed per message from a shared pool
    /// instead of being held by each connection.
    /// </summary>
    public bool ClientContextTakeover { get; set; }

    /// <summary>
    /// Largest LZ77 window (as a power of two, 8..15) the server's compressor uses. Default 15. Less saves memory on a
    /// server with context takeover. zlib cannot compress with an 8-bit window: a connection whose limit is 8 gets its
    /// messages uncompressed (which RFC 7692 always allows).
    /// </summary>
    public int ServerMaxWindowBits
    {
        get => _serverMaxWindowBits;
        set => _serverMaxWindowBits = CheckWindowBits(value);
    }

    /// <summary>
    /// Largest LZ77 window (8..15) asked of the client's compressor, when the client says it can limit it
    /// (<c>client_max_window_bits</c> in its offer). Default 15, which asks nothing. Tern decompresses every window size.
    /// </summary>
    public int ClientMaxWindowBits
    {
        get => _clientMaxWindowBits;
        set => _clientMaxWindowBits = CheckWindowBits(value);
    }

    /// <summary>
    /// Messages shorter than this many bytes are sent uncompressed (RSV1 clear): below about a kilobyte, deflate saves
    /// little and costs CPU. Default 1024; 0 compresses every message.
    /// </summary>
    public int MinimumMessageSize
    {
        get => _minimumMessageSize;
        set => _minimumMessageSize = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "The threshold cannot be negative.");
    }

    /// <summary>zlib compression level, 1 (fastest) to 9 (smallest). Default 6, zlib's own default.</summary>
    public int Level
    {
        get => _level;
        set => _level = value is >= 1 and <= 9 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "zlib levels run from 1 to 9.");
    }

    private static int CheckWindowBits(int value) =>
        value is >= 8 and <= 15 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "Window bits run from 8 to 15 (RFC 7692 §7.1.2).");
}
