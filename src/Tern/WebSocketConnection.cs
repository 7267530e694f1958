using System.Net;
using Tern.Protocol;
using Tern.Transport;

namespace Tern;

/// <summary>
/// One open WebSocket connection: read its messages, send yours, close it.
/// </summary>
/// <remarks>
/// <para><b>Thread safety.</b> Every send (<see cref="SendTextAsync(string, CancellationToken)"/>,
/// <see cref="SendBinaryAsync"/>, <see cref="SendAsync"/>, <see cref="PingAsync"/>, <see cref="CloseAsync"/>) may be
/// called from any thread at any time, concurrently with each other and with reading: frames are never interleaved,
/// and each message goes out whole, in the order the sends were made. Reading is single-consumer: one
/// <see cref="ReadMessagesAsync"/> enumeration at a time (a second one throws <see cref="InvalidOperationException"/>).
/// Properties may be read from any thread.</para>
/// <para><b>Reading drives the connection.</b> Incoming pings are answered and the peer's close is handled while someone
/// reads. Keep a <see cref="ReadMessagesAsync"/> loop running for the connection's lifetime (the callback style of
/// <see cref="WebSocketHandler"/> does so for you).</para>
/// <para><b>Sending.</b> A send returns once the frame is queued for the socket, not when the peer got it. When more than
/// <see cref="WebSocketServerOptions.MaxSendQueueSize"/> bytes are queued, the <see cref="WebSocketServerOptions.SlowConsumerPolicy"/>
/// decides: by default a send waits for the queue to drain.</para>
/// </remarks>
public sealed partial class WebSocketConnection : IAsyncDisposable
{
    private static long s_nextId;

    private readonly DuplexConnection _io;
    private readonly WebSocketDecoder _decoder;
    private readonly MessageCompressor? _compressor;
    private readonly ConnectionSettings _settings;
    private readonly bool _maskOutgoing;
    private readonly object _sendLock = new();
    private bool _peerCloseSeen;
    private TaskCompletionSource? _peerCloseWaiter;
    private Dictionary<string, object?>? _items;
    private readonly ClosingHandshake _close = new();
    private WebSocketMessage _received;
    private int _readerActive;
    private int _receiving;
    private long _lastPingTicks;
    private long _lastPingLiveTicks;
    private Task _finishing = Task.CompletedTask;
    private MaskKeyGenerator _maskKeys;
    private byte[]? _pendingPong;
    private int _pendingPongLength;
    private long _pongEnd;
    private int _pongWake;

    private const int PongWakeIdle = 0, PongWakeArmed = 1, PongWakeFired = 2;

    /// <summary>Most queued bytes under which pings are still answered one by one (see <see cref="AnswerPing"/>).</summary>
    private const int PongCoalescingThreshold = 4 * 1024 * 1024;

    /// <summary>
    /// Queued bytes above which pings are no longer answered one by one: a quarter of the send queue limit, at most
    /// 4 MiB. High enough that a client reading along gets a pong for every ping even in bursts of many thousands;
    /// low enough that pongs alone never take a peer that does not read to its limit.
    /// </summary>
    private long PongThreshold => Math.Min(PongCoalescingThreshold, _settings.MaxSendQueueSize / 4);

    internal WebSocketConnection(DuplexConnection io, HttpRequestHead request, string? subprotocol, bool isClient, ConnectionSettings settings,
        PerMessageDeflateParameters? deflate = null, string? extensions = null)
    {
        _io = io;
        Request = request;
        Subprotocol = subprotocol;
        Extensions = extensions;
        _maskOutgoing = isClient;
        bool peerContextTakeover = false;
        if (deflate is not null && settings.Compression is { } compression)
        {
            // Each side compresses under its own parameters and decompresses under the peer's.
            (bool ownNoContext, int ownBits, bool peerNoContext) = isClient
                ? (deflate.ClientNoContextTakeover, deflate.ClientMaxWindowBits, deflate.ServerNoContextTakeover)
                : (deflate.ServerNoContextTakeover, deflate.ServerMaxWindowBits, deflate.ClientNoContextTakeover);
            _compressor = new MessageCompressor(compression.Level, ownBits, keepContext: !ownNoContext, compression.MinimumMessageSize);
            peerContextTakeover = !peerNoContext;
        }

        _decoder = new WebSocketDecoder(expectMaskedFrames: !isClient, settings.MaxMessageSize, settings.ReceiveBudget, perMessageDeflate: deflate is not null, peerContextTakeover);
        _settings = settings;
        Id = Interlocked.Increment(ref s_nextId);
        if (isClient)
        {
            _maskKeys = MaskKeyGenerator.Create();
        }
    }

    /// <summary>A process-wide unique number for this connection, for logs and lookups.</summary>
    public long Id { get; }

    /// <summary>The peer's address.</summary>
    public IPEndPoint RemoteEndPoint => _io.Transport.RemoteEndPoint;

    /// <summary>This side's address.</summary>
    public IPEndPoint LocalEndPoint => _io.Transport.LocalEndPoint;

    /// <summary>Whether the connection runs over TLS (wss).</summary>
    public bool IsSecure => _io.Transport.IsSecure;

    /// <summary>The opening HTTP request: path, query, headers and cookies.</summary>
    public HttpRequestHead Request { get; }

    /// <summary>The request path (raw, without the query).</summary>
    public string Path => Request.Path;

    /// <summary>The raw query string, without '?'.</summary>
    public string QueryString => Request.QueryString;

    /// <summary>The decoded query parameters.</summary>
    public IReadOnlyDictionary<string, string> Query => Request.Query;

    /// <summary>The request headers.</summary>
    public HttpHeaderCollection Headers => Request.Headers;

    /// <summary>The negotiated subprotocol, or null.</summary>
    public string? Subprotocol { get; }

    /// <summary>
    /// The negotiated <c>Sec-WebSocket-Extensions</c> value (for example <c>permessage-deflate; server_no_context_takeover</c>),
    /// or null when no extension is in use.
    /// </summary>
    public string? Extensions { get; }

    /// <summary>Application data: what the handshake hook stored, and whatever the application adds. Not synchronized.</summary>
    public IDictionary<string, object?> Items => _items ??= new Dictionary<string, object?>();

    /// <summary>Where the connection is in its closing handshake.</summary>
    public WebSocketConnectionState State
    {
        get
        {
            lock (_sendLock)
            {
                return _close.State;
            }
        }
    }

    /// <summary>
    /// How the connection closed: the close frame the peer sent, the code Tern sent when the peer broke the protocol,
    /// or 1006 when the connection dropped without a close frame. Null while open.
    /// </summary>
    public WebSocketCloseInfo? CloseInfo
    {
        get
        {
            lock (_sendLock)
            {
                return _close.CloseInfo;
            }
        }
    }

    /// <summary>Canceled when the connection is dropped (closed, aborted, or the server stopped).</summary>
    public CancellationToken Aborted => _io.Aborted;

    /// <summary>Completes when the connection is fully closed and its resources released.</summary>
    public Task Completion => _io.Completion;

    /// <summary>Bytes queued for sending and not yet handed to the socket.</summary>
    public long QueuedBytes => _io.QueuedBytes;

    /// <summary>Drops the connection at once, without a closing handshake.</summary>
    public void Abort()
    {
        lock (_sendLock)
        {
            _close.Dropped("The connection was aborted.");
        }

        MarkPeerCloseSeen();
        _io.Abort();
    }

    /// <summary>Drops the connection if it is still open and releases its buffers.</summary>
    public async ValueTask DisposeAsync()
    {
        Abort();
        await _finishing.ConfigureAwait(false);
        await Completion.ConfigureAwait(false);
        // Not under a receive in progress (the abort has made it return; a CloseAsync that has not let go yet leaves
        // the decoder to the garbage collector). Taking the receive for good makes any later read find the connection
        // done without touching the decoder.
        if (Interlocked.CompareExchange(ref _receiving, 1, 0) == 0)
        {
            if (Interlocked.CompareExchange(ref _readerActive, 1, 0) == 0)
            {
                _decoder.Dispose();
            }
            else
            {
                // A reader the application never finished (a streamed reader not disposed, an enumeration kept) may
                // still hold a message's data: its buffer goes to the garbage collector rather than back to the pool,
                // but its share of the server's buffer budget comes back now, not never.
                _decoder.Abandon();
            }

            lock (_sendLock)
            {
                _compressor?.Dispose();
            }

            ReleasePendingPong();
            await _io.Input.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Calls <paramref name="callback"/> with this connection once it is dropped (closed, aborted or failed).</summary>
    internal void OnAborted(Action<object?> callback) => _io.OnAborted(callback, this);
}
