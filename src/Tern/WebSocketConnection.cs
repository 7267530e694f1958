using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Diagnostics;
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
public sealed class WebSocketConnection : IAsyncDisposable
{
    private static long s_nextId;

    private readonly DuplexConnection _io;
    private readonly WebSocketDecoder _decoder;
    private readonly ConnectionSettings _settings;
    private readonly bool _maskOutgoing;
    private readonly object _sendLock = new();
    private bool _peerCloseSeen;
    private TaskCompletionSource? _peerCloseWaiter;
    private Dictionary<string, object?>? _items;
    private WebSocketConnectionState _state = WebSocketConnectionState.Open;
    private WebSocketCloseInfo? _closeInfo;
    private WebSocketMessage _received;
    private int _readerActive;
    private int _receiving;
    private long _lastPingTicks;
    private long _lastPingLiveTicks;
    private Task _finishing = Task.CompletedTask;
    private ulong _maskState;
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

    internal WebSocketConnection(DuplexConnection io, HttpRequestHead request, string? subprotocol, bool isClient, ConnectionSettings settings)
    {
        _io = io;
        Request = request;
        Subprotocol = subprotocol;
        _maskOutgoing = isClient;
        _decoder = new WebSocketDecoder(expectMaskedFrames: !isClient, settings.MaxMessageSize, settings.ReceiveBudget);
        _settings = settings;
        Id = Interlocked.Increment(ref s_nextId);
        if (isClient)
        {
            // Masking keys need not be secret from the peer, only unpredictable to scripts on the path, so a
            // cryptographically seeded xorshift per connection is enough and never blocks.
            Span<byte> seed = stackalloc byte[8];
            RandomNumberGenerator.Fill(seed);
            _maskState = BitConverter.ToUInt64(seed) | 1;
        }
    }

    /// <summary>A process-wide unique number for this connection, for logs and lookups.</summary>
    public long Id { get; }

    /// <summary>The peer's address.</summary>
    public IPEndPoint RemoteEndPoint => _io.Transport.RemoteEndPoint;

    /// <summary>This side's address.</summary>
    public IPEndPoint LocalEndPoint => _io.Transport.LocalEndPoint;

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

    /// <summary>Application data: what the handshake hook stored, and whatever the application adds. Not synchronized.</summary>
    public IDictionary<string, object?> Items => _items ??= new Dictionary<string, object?>();

    /// <summary>Where the connection is in its closing handshake.</summary>
    public WebSocketConnectionState State
    {
        get
        {
            lock (_sendLock)
            {
                return _state;
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
                return _closeInfo;
            }
        }
    }

    /// <summary>Canceled when the connection is dropped (closed, aborted, or the server stopped).</summary>
    public CancellationToken Aborted => _io.Aborted;

    /// <summary>Completes when the connection is fully closed and its resources released.</summary>
    public Task Completion => _io.Completion;

    /// <summary>Bytes queued for sending and not yet handed to the socket.</summary>
    public long QueuedBytes => _io.QueuedBytes;

    /// <summary>
    /// Reads messages as they arrive, until the peer closes the connection (the enumeration then ends normally; see
    /// <see cref="CloseInfo"/>). Pings are answered and the close handshake is completed along the way. A protocol
    /// violation by the peer closes the connection with the right code and ends the enumeration.
    /// </summary>
    /// <remarks>
    /// Each message's data is valid until the next message is requested. An enumeration is this connection's reader
    /// from its first read until it is disposed (<c>await foreach</c> disposes it).
    /// </remarks>
    /// <param name="cancellationToken">Ends the wait for the next message with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidOperationException">Another enumeration is already reading this connection.</exception>
    public IAsyncEnumerable<WebSocketMessage> ReadMessagesAsync(CancellationToken cancellationToken = default) =>
        new MessageStream(this, cancellationToken);

    /// <summary>Sends a text message.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        int byteCount = Encoding.UTF8.GetByteCount(text);
        byte[] rented = ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            int written = Encoding.UTF8.GetBytes(text, rented);
            return SendMessageFrame(Opcode.Text, rented.AsSpan(0, written), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Sends a text message given as UTF-8 bytes. The bytes are not checked: they must be valid UTF-8.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendTextAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        return SendMessageFrame(Opcode.Text, utf8Text.Span, cancellationToken);
    }

    /// <summary>Sends a binary message.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        return SendMessageFrame(Opcode.Binary, data.Span, cancellationToken);
    }

    /// <summary>Sends a message of the same kind and content as <paramref name="message"/> (an echo, or a relay).</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendAsync(WebSocketMessage message, CancellationToken cancellationToken = default)
    {
        return SendMessageFrame(message.IsText ? Opcode.Text : Opcode.Binary, message.Data.Span, cancellationToken);
    }

    /// <summary>Sends a ping (at most 125 bytes of payload). The pong is handled by the reader; any data from the peer proves it alive.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payload.Length, FrameHeader.MaxControlPayload, nameof(payload));
        WriteFrame(Opcode.Ping, payload.Span, throwIfClosed: true);
        return WaitForQueueAsync(cancellationToken);
    }

    /// <summary>
    /// Starts the closing handshake: sends a close frame, waits (at most the close timeout) for the peer's close frame,
    /// then closes the TCP connection. Returns when the connection is closed. Does nothing if it is already closing.
    /// </summary>
    /// <param name="code">1000–1003, 1007–1011 or an application code 3000–4999.</param>
    /// <param name="reason">Optional reason, at most 123 UTF-8 bytes.</param>
    /// <param name="cancellationToken">Stops waiting for the peer; the connection is then dropped.</param>
    /// <remarks>
    /// May be called from any thread, including from the body of a <see cref="ReadMessagesAsync"/> loop or a
    /// <see cref="WebSocketHandler.OnMessage"/> callback: it then reads the peer's close itself. Data the peer still
    /// sends after the close frame is discarded, and may overwrite the data of the message being handled, so use that
    /// message before closing.
    /// </remarks>
    public async Task CloseAsync(WebSocketCloseCode code = WebSocketCloseCode.NormalClosure, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (!CloseFrame.IsValidOnWire((int)code))
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, "Close codes sent must be 1000–1003, 1007–1011 or 3000–4999.");
        }

        if (!CloseFrame.FitsReason(reason))
        {
            throw new ArgumentException("A close reason is limited to 123 UTF-8 bytes.", nameof(reason));
        }

        bool sent;
        lock (_sendLock)
        {
            sent = _state == WebSocketConnectionState.Open;
            if (sent)
            {
                WriteCloseLocked(code, reason);
                _state = WebSocketConnectionState.CloseSent;
            }
        }

        if (sent)
        {
            Log.Closing(_settings.Logger, Id, (int)code);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.CloseTimeout);
        if (Interlocked.CompareExchange(ref _receiving, 1, 0) == 0)
        {
            try
            {
                // Nobody is receiving (no reader, or a ReadMessagesAsync loop paused in its body, perhaps the caller of
                // this very method), so this call reads until the peer's close arrives, answering pings, dropping data.
                while (await ReceiveLockedAsync(deliverMessages: false, releaseReceiving: false, timeout.Token).ConfigureAwait(false))
                {
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                Volatile.Write(ref _receiving, 0);
            }
        }
        else
        {
            try
            {
                // A reader is in the middle of a receive: it sees the peer's close.
                await WaitForPeerCloseAsync().WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        if (!Volatile.Read(ref _peerCloseSeen))
        {
            Log.NoCloseInTime(_settings.Logger, Id);
            Abort();
        }

        await _finishing.ConfigureAwait(false);
        await Completion.ConfigureAwait(false);
    }

    /// <summary>Drops the connection at once, without a closing handshake.</summary>
    public void Abort()
    {
        lock (_sendLock)
        {
            _state = WebSocketConnectionState.Closed;
            _closeInfo ??= new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "The connection was aborted.");
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
        // Not under a reader, nor under a CloseAsync still receiving (the abort has made its read return; if it has not
        // let go yet, the decoder's buffer is left to the garbage collector).
        if (Interlocked.CompareExchange(ref _readerActive, 1, 0) == 0 && Interlocked.CompareExchange(ref _receiving, 1, 0) == 0)
        {
            _decoder.Dispose();
            ReleasePendingPong();
            await _io.Input.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Records that reading is over (close frame, protocol error, end of stream or abort), waking a waiting <see cref="CloseAsync"/>.</summary>
    private void MarkPeerCloseSeen()
    {
        TaskCompletionSource? waiter;
        lock (_sendLock)
        {
            _peerCloseSeen = true;
            waiter = _peerCloseWaiter;
        }

        waiter?.TrySetResult();
    }

    private Task WaitForPeerCloseAsync()
    {
        lock (_sendLock)
        {
            // Created only when someone waits, so an open connection carries no task for it.
            return _peerCloseSeen ? Task.CompletedTask : (_peerCloseWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>Reads until one data message is ready (true), or the connection is done (false).</summary>
    /// <remarks>
    /// One receive at a time: the enumeration and a closing handshake may both want to read. The enumeration holds the
    /// receive only while reading, not while paused in its consumer's loop body.
    /// </remarks>
    private ValueTask<bool> ReceiveAsync(bool deliverMessages, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _receiving, 1, 0) != 0)
        {
            return WaitForCloseHandshakeAsync(cancellationToken);
        }

        // Not wrapped in another async method: the state of every pending receive stays allocated while the
        // connection is idle, so one state machine, not two.
        return ReceiveLockedAsync(deliverMessages, releaseReceiving: true, cancellationToken);
    }

    private async ValueTask<bool> WaitForCloseHandshakeAsync(CancellationToken cancellationToken)
    {
        // A CloseAsync is reading the closing handshake: once it has seen the peer's close, nothing is left to deliver.
        await WaitForPeerCloseAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>The receive itself, for a caller that set <see cref="_receiving"/>.</summary>
    /// <param name="deliverMessages">False to drop data messages (while closing).</param>
    /// <param name="releaseReceiving">Clear <see cref="_receiving"/> when done (else the caller does).</param>
    /// <param name="cancellationToken">Ends the wait for input.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveLockedAsync(bool deliverMessages, bool releaseReceiving, CancellationToken cancellationToken)
    {
        try
        {
            PipeReader input = _io.Input;
            // The connection's own token needs no registration: an abort already wakes these waits.
            CancellationToken token = cancellationToken == _io.Aborted ? CancellationToken.None : cancellationToken;
            while (!_decoder.IsFinished)
            {
                if (_io.QueuedBytes > _settings.MaxSendQueueSize)
                {
                    // Backpressure on the reader: the peer is not taking what we send, so stop taking what it sends.
                    // Its messages and pings wait in the kernel, TCP flow control slows it down, and memory stays
                    // bounded by the limit.
                    await _io.WaitForDrainAsync(_settings.MaxSendQueueSize, token).ConfigureAwait(false);
                }

                if (SendPendingPong())
                {
                    // Still held back behind a pong in flight: have its departure wake this read (see WakeForPongAsync).
                    ArmPongWake();
                }

                // The previous message is used up (the application asked for the next): its buffer goes back now, not
                // when the peer next sends something.
                _decoder.ReleaseIdleBuffers();
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(token).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    // The input was completed by DisposeAsync.
                    OnEndOfStream();
                    return false;
                }

                if (result.IsCanceled)
                {
                    if (Interlocked.Exchange(ref _pongWake, PongWakeIdle) == PongWakeFired && !_io.Aborted.IsCancellationRequested)
                    {
                        // Not the end: the pong ahead of the held-back one has left, so that one can go now.
                        continue;
                    }

                    OnEndOfStream();
                    return false;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                ProtocolEvent received;
                while (true)
                {
                    received = _decoder.Read(ref buffer);
                    if (received.Type == ProtocolEventType.Ping)
                    {
                        AnswerPing(received.Payload.Span);
                    }
                    else if (received.Type == ProtocolEventType.Pong)
                    {
                        // Liveness is tracked from every received byte; a pong needs nothing more.
                    }
                    else if (received.Type != ProtocolEventType.Message || (deliverMessages && State == WebSocketConnectionState.Open))
                    {
                        break;
                    }
                }

                // A ping kept during this batch is answered now if the pong ahead of it has left meanwhile.
                SendPendingPong();
                if (received.Type == ProtocolEventType.NeedMoreData)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        OnEndOfStream();
                        return false;
                    }

                    continue;
                }

                input.AdvanceTo(buffer.Start);
                switch (received.Type)
                {
                    case ProtocolEventType.Message:
                        _received = new WebSocketMessage(received.MessageKind, received.Payload);
                        _settings.Metrics?.MessageReceived(received.MessageKind, received.Payload.Length);
                        return true;
                    case ProtocolEventType.Close:
                        OnPeerClose(received.CloseCode, received.Reason);
                        return false;
                    default:
                        OnProtocolError(received.CloseCode, received.Reason);
                        return false;
                }
            }

            return false;
        }
        finally
        {
            if (releaseReceiving)
            {
                Volatile.Write(ref _receiving, 0);
            }
        }
    }

    /// <summary>
    /// Answers a ping. While the send queue is short (at most <see cref="PongThreshold"/>) every ping gets its pong, in
    /// order. Beyond that the peer is not keeping up with what we send, and at most one pong waits in the queue at a
    /// time: a ping that arrives while an earlier pong is still queued is kept (replacing any kept before it) and
    /// answered once that pong has left (RFC 6455 §5.5.3 allows answering only the latest). So pongs keep flowing to a
    /// slow reader, one at a time behind its backlog, and a ping flood from a peer that never reads costs one queued pong
    /// and one kept payload, not a queue full of pongs.
    /// </summary>
    private void AnswerPing(ReadOnlySpan<byte> payload)
    {
        if (_io.QueuedBytes <= PongThreshold || !PongInFlight)
        {
            // A pong still kept is older than this one: this answer supersedes it.
            ReleasePendingPong();
            WritePong(payload);
            return;
        }

        _pendingPong ??= ArrayPool<byte>.Shared.Rent(FrameHeader.MaxControlPayload);
        payload.CopyTo(_pendingPong);
        _pendingPongLength = payload.Length;
    }

    /// <summary>Whether the last pong written is still queued, not yet handed to the socket.</summary>
    private bool PongInFlight => _io.SentTotal < Volatile.Read(ref _pongEnd);

    private void WritePong(ReadOnlySpan<byte> payload)
    {
        lock (_sendLock)
        {
            if (IsOpenLocked())
            {
                WriteFrameLocked(Opcode.Pong, payload);
                Volatile.Write(ref _pongEnd, _io.CommittedTotal);
            }
        }
    }

    /// <summary>Sends the pong kept by <see cref="AnswerPing"/> if it may go now; true if it is still kept.</summary>
    private bool SendPendingPong()
    {
        if (_pendingPong is null)
        {
            return false;
        }

        if (_io.QueuedBytes > PongThreshold && PongInFlight)
        {
            return true;
        }

        WritePong(_pendingPong.AsSpan(0, _pendingPongLength));
        ReleasePendingPong();
        return false;
    }

    /// <summary>
    /// Makes sure the reader, about to wait for input with a pong kept, wakes when the pong ahead of it leaves: the
    /// peer may be waiting for that answer and send nothing more until it comes.
    /// </summary>
    private void ArmPongWake()
    {
        if (Interlocked.CompareExchange(ref _pongWake, PongWakeArmed, PongWakeIdle) == PongWakeIdle)
        {
            _ = WakeForPongAsync(Volatile.Read(ref _pongEnd));
        }
    }

    private async Task WakeForPongAsync(long pongEnd)
    {
        await _io.WaitForSentAsync(pongEnd).ConfigureAwait(false);
        if (Interlocked.CompareExchange(ref _pongWake, PongWakeFired, PongWakeArmed) == PongWakeArmed)
        {
            // The reader's pending read returns as canceled; seeing PongWakeFired, it loops and sends the kept pong.
            try
            {
                _io.Input.CancelPendingRead();
            }
            catch (InvalidOperationException)
            {
                // The input was completed: the connection is gone, and the kept pong with it.
            }
        }
    }

    private void ReleasePendingPong()
    {
        if (_pendingPong is not null)
        {
            ArrayPool<byte>.Shared.Return(_pendingPong);
            _pendingPong = null;
        }
    }

    /// <summary>
    /// What <see cref="ReadMessagesAsync"/> returns: both the sequence and (the first time) its enumerator. Written by
    /// hand rather than as an async iterator because an idle connection keeps its pending read alive, and an iterator's
    /// state machine and its box cost several times this object.
    /// </summary>
    private sealed class MessageStream : IAsyncEnumerable<WebSocketMessage>, IAsyncEnumerator<WebSocketMessage>
    {
        private const int Unused = 0, Enumerating = 1, Reading = 2, Ended = 3;

        private readonly WebSocketConnection _connection;
        private readonly CancellationToken _token;
        private CancellationToken _readToken;
        private CancellationTokenSource? _linked;
        private int _state;

        public MessageStream(WebSocketConnection connection, CancellationToken token)
        {
            _connection = connection;
            _token = token;
        }

        public WebSocketMessage Current => _connection._received;

        public IAsyncEnumerator<WebSocketMessage> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            MessageStream enumerator = Interlocked.CompareExchange(ref _state, Enumerating, Unused) == Unused
                ? this
                : new MessageStream(_connection, _token) { _state = Enumerating };
            if (!cancellationToken.CanBeCanceled || cancellationToken == _token)
            {
                enumerator._readToken = _token;
            }
            else if (!_token.CanBeCanceled)
            {
                enumerator._readToken = cancellationToken;
            }
            else
            {
                enumerator._linked = CancellationTokenSource.CreateLinkedTokenSource(_token, cancellationToken);
                enumerator._readToken = enumerator._linked.Token;
            }

            return enumerator;
        }

        public ValueTask<bool> MoveNextAsync()
        {
            if (_state == Enumerating)
            {
                // The reader is claimed on the first read, not when the enumerator is made.
                if (Interlocked.CompareExchange(ref _connection._readerActive, 1, 0) != 0)
                {
                    _state = Ended;
                    return ValueTask.FromException<bool>(new InvalidOperationException("Only one reader at a time may read a WebSocket connection."));
                }

                _state = Reading;
            }

            return _state == Reading ? _connection.ReceiveAsync(deliverMessages: true, _readToken) : new ValueTask<bool>(false);
        }

        public ValueTask DisposeAsync()
        {
            if (_state == Reading)
            {
                Volatile.Write(ref _connection._readerActive, 0);
            }

            _state = Ended;
            _linked?.Dispose();
            return default;
        }
    }

    private void OnPeerClose(WebSocketCloseCode code, string reason)
    {
        lock (_sendLock)
        {
            if (_state == WebSocketConnectionState.Open)
            {
                // Echo the peer's code (none if it sent none), as RFC 6455 §5.5.1 suggests.
                _state = WebSocketConnectionState.CloseReceived;
                WriteCloseLocked(code, reason: null);
            }

            _state = WebSocketConnectionState.Closed;
            _closeInfo ??= new WebSocketCloseInfo(code, reason);
        }

        Log.PeerClosed(_settings.Logger, Id, (int)code, new PeerText(reason));
        _settings.Metrics?.CloseReceived(code);
        _finishing = FinishAsync(waitForPeer: false);
        MarkPeerCloseSeen();
    }

    private void OnProtocolError(WebSocketCloseCode code, string reason)
    {
        lock (_sendLock)
        {
            if (_state is WebSocketConnectionState.Open or WebSocketConnectionState.CloseSent)
            {
                if (_state == WebSocketConnectionState.Open)
                {
                    WriteCloseLocked(code, reason);
                }

                _state = WebSocketConnectionState.Closed;
            }

            _closeInfo ??= new WebSocketCloseInfo(code, reason);
        }

        Log.ProtocolErrorClose(_settings.Logger, _settings.LogThrottles.ProtocolErrors, Id, RemoteEndPoint, code, reason);
        _finishing = FinishAsync(waitForPeer: true);
        MarkPeerCloseSeen();
    }

    private void OnEndOfStream()
    {
        bool wasOpen;
        lock (_sendLock)
        {
            wasOpen = _state != WebSocketConnectionState.Closed;
            _state = WebSocketConnectionState.Closed;
            _closeInfo ??= new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "The connection was dropped without a close frame.");
        }

        if (wasOpen)
        {
            Log.DroppedWithoutClose(_settings.Logger, Id);
        }

        MarkPeerCloseSeen();
        _io.Abort();
    }

    /// <summary>Sends what is queued (our close frame last), half-closes, optionally waits for the peer to close its side, then releases the socket.</summary>
    private async Task FinishAsync(bool waitForPeer)
    {
        try
        {
            bool flushed = await _io.CompleteOutputAsync(_settings.CloseTimeout).ConfigureAwait(false);
            if (flushed && waitForPeer)
            {
                await _io.DrainInputAsync(_settings.CloseTimeout).ConfigureAwait(false);
            }
        }
        finally
        {
            _io.Abort();
        }
    }

    private void WriteCloseLocked(WebSocketCloseCode code, string? reason)
    {
        Span<byte> payload = stackalloc byte[FrameHeader.MaxControlPayload];
        int length = code == WebSocketCloseCode.NoStatusReceived ? 0 : CloseFrame.WritePayload(payload, code, reason);
        WriteFrameLocked(Opcode.Close, payload[..length]);
        _settings.Metrics?.CloseSent(code);
    }

    private void WriteFrame(Opcode opcode, ReadOnlySpan<byte> payload, bool throwIfClosed)
    {
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                if (throwIfClosed)
                {
                    throw new WebSocketClosedException();
                }

                return;
            }

            WriteFrameLocked(opcode, payload);
        }
    }

    /// <summary>Calls <paramref name="callback"/> with this connection once it is dropped (closed, aborted or failed).</summary>
    internal void OnAborted(Action<object?> callback) => _io.OnAborted(callback, this);

    /// <summary>Whether frames may still be sent; notices a transport that failed while nobody was reading.</summary>
    private bool IsOpenLocked()
    {
        if (_state == WebSocketConnectionState.Open && _io.Aborted.IsCancellationRequested)
        {
            // A send hit a reset (or the connection was dropped) and no reader has seen the end of the stream yet:
            // without this, a handler that only sends would see every send succeed, forever, on a dead socket.
            _state = WebSocketConnectionState.Closed;
            _closeInfo ??= new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "The connection was dropped without a close frame.");
        }

        return _state == WebSocketConnectionState.Open;
    }

    private void WriteFrameLocked(Opcode opcode, ReadOnlySpan<byte> payload)
    {
        IBufferWriter<byte> output = _io.BeginOutput();
        int headerLength = FrameHeader.GetLength(payload.Length, _maskOutgoing);
        uint maskKey = _maskOutgoing ? NextMaskKey() : 0;
        Span<byte> header = output.GetSpan(headerLength);
        FrameHeader.Write(header, opcode, fin: true, payload.Length, _maskOutgoing, maskKey);
        output.Advance(headerLength);
        int keyOffset = 0;
        ReadOnlySpan<byte> remaining = payload;
        while (!remaining.IsEmpty)
        {
            // Large hints mean fewer, larger pipe segments and so fewer socket sends for big messages.
            Span<byte> target = output.GetSpan(Math.Min(remaining.Length, 64 * 1024));
            int chunk = Math.Min(target.Length, remaining.Length);
            if (_maskOutgoing)
            {
                keyOffset = Masking.Apply(remaining[..chunk], target, maskKey, keyOffset);
            }
            else
            {
                remaining[..chunk].CopyTo(target);
            }

            output.Advance(chunk);
            remaining = remaining[chunk..];
        }

        _io.CommitOutput();
    }

    private uint NextMaskKey()
    {
        ulong x = _maskState;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        _maskState = x;
        return (uint)(x >> 16);
    }

    private ValueTask WaitForQueueAsync(CancellationToken cancellationToken)
    {
        if (_io.QueuedBytes <= _settings.MaxSendQueueSize)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(_io.WaitForDrainAsync(_settings.MaxSendQueueSize, cancellationToken));
    }

    /// <summary>
    /// Queues a data frame under the <see cref="SlowConsumerPolicy"/>, and returns what the sender should await: the
    /// queue draining under <see cref="SlowConsumerPolicy.Wait"/>, nothing otherwise.
    /// </summary>
    private ValueTask SendMessageFrame(Opcode opcode, ReadOnlySpan<byte> payload, CancellationToken cancellationToken)
    {
        SlowConsumerPolicy policy = _settings.SlowConsumerPolicy;
        long discarded;
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                throw new WebSocketClosedException();
            }

            if (policy == SlowConsumerPolicy.Wait || _io.QueuedBytes <= _settings.MaxSendQueueSize)
            {
                WriteFrameLocked(opcode, payload);
                _settings.Metrics?.MessageSent(opcode == Opcode.Text, payload.Length);
                return policy == SlowConsumerPolicy.Wait ? WaitForQueueAsync(cancellationToken) : default;
            }

            if (policy == SlowConsumerPolicy.Drop)
            {
                OnMessageDropped();
                return default;
            }

            discarded = BeginSlowConsumerCloseLocked();
        }

        FinishSlowConsumerClose(discarded);
        throw new WebSocketClosedException(SlowConsumerCloseReason);
    }

    /// <summary>
    /// Queues an already-encoded data frame (a broadcast, encoded once for every receiver). Never waits: a connection
    /// over its limit gets nothing under <see cref="SlowConsumerPolicy.Drop"/>, and is closed as a slow consumer under
    /// the other policies. A connection that is closing is skipped. Returns whether the frame was queued.
    /// </summary>
    internal bool DeliverBroadcast(ReadOnlySpan<byte> frame)
    {
        long discarded;
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                return false;
            }

            if (_io.QueuedBytes <= _settings.MaxSendQueueSize)
            {
                IBufferWriter<byte> output = _io.BeginOutput();
                frame.CopyTo(output.GetSpan(frame.Length));
                output.Advance(frame.Length);
                _io.CommitOutput();
                return true;
            }

            if (_settings.SlowConsumerPolicy == SlowConsumerPolicy.Drop)
            {
                OnMessageDropped();
                return false;
            }

            discarded = BeginSlowConsumerCloseLocked();
        }

        FinishSlowConsumerClose(discarded);
        return false;
    }

    private const string SlowConsumerCloseReason = "Send queue limit exceeded: the client reads too slowly.";

    private void OnMessageDropped()
    {
        Log.MessageDropped(_settings.Logger, Id, _settings.MaxSendQueueSize);
        _settings.Metrics?.MessageDropped();
    }

    /// <summary>
    /// Discards the backlog the peer is not reading (but for a frame already partly sent, which must be finished) and
    /// puts a 1008 close frame in its place, so the peer learns why instead of seeing a reset.
    /// </summary>
    private long BeginSlowConsumerCloseLocked()
    {
        long discarded = _io.DiscardQueuedOutput();
        _settings.Metrics?.SlowConsumerClosed();
        WriteCloseLocked(WebSocketCloseCode.PolicyViolation, SlowConsumerCloseReason);
        _state = WebSocketConnectionState.CloseSent;
        _closeInfo ??= new WebSocketCloseInfo(WebSocketCloseCode.PolicyViolation, SlowConsumerCloseReason);
        return discarded;
    }

    /// <summary>Completes a slow-consumer close outside the send lock: logs it and waits (bounded) for the peer's close.</summary>
    private void FinishSlowConsumerClose(long discarded)
    {
        Log.SlowConsumerClosed(_settings.Logger, _settings.LogThrottles.SlowConsumers, Id, RemoteEndPoint, _settings.MaxSendQueueSize, discarded);
        // CloseAsync finds the close frame sent, and only waits for the peer's answer (at most the close timeout) and
        // then closes TCP. Started on the thread pool: with no reader it reads the peer's input itself, and that must
        // not happen on the thread of a broadcast, which never waits.
        ThreadPool.UnsafeQueueUserWorkItem(static connection => _ = connection.CloseAsync(WebSocketCloseCode.PolicyViolation), this, preferLocal: false);
    }

    /// <summary>
    /// Sends a keepalive ping when the peer has been silent for the interval, and drops the peer when that ping has
    /// gone unanswered (no data at all) for the timeout.
    /// </summary>
    /// <param name="nowTicks">Now, on the <see cref="Environment.TickCount64"/> clock that stamps received data.</param>
    /// <param name="liveNowTicks">Now, on a clock that stood still while this process was stalled (see the server's keepalive pass).</param>
    /// <param name="intervalMs">Silence before a ping.</param>
    /// <param name="timeoutMs">How long a ping may go unanswered.</param>
    /// <remarks>
    /// The timeout counts from the ping actually sent, and only while the process runs: when the process is starved,
    /// the peer's answer may be waiting unread, so a stall never counts against the peer.
    /// </remarks>
    internal void KeepAliveTick(long nowTicks, long liveNowTicks, long intervalMs, long timeoutMs)
    {
        if (State != WebSocketConnectionState.Open)
        {
            return;
        }

        long silentSince = _io.LastReceiveTicks;
        bool pingOutstanding = _lastPingTicks > silentSince;
        if (pingOutstanding && liveNowTicks - _lastPingLiveTicks >= timeoutMs)
        {
            Log.KeepAliveTimeout(_settings.Logger, _settings.LogThrottles.KeepAliveTimeouts, Id, RemoteEndPoint, (liveNowTicks - _lastPingLiveTicks) / 1000.0);
            lock (_sendLock)
            {
                _closeInfo ??= new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "Keepalive timeout: the peer stopped responding.");
            }

            Abort();
            return;
        }

        if (!pingOutstanding && nowTicks - silentSince >= intervalMs)
        {
            _lastPingTicks = nowTicks;
            _lastPingLiveTicks = liveNowTicks;
            WriteFrame(Opcode.Ping, ReadOnlySpan<byte>.Empty, throwIfClosed: false);
        }
    }
}
