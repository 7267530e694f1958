using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Diagnostics;
using Tern.Http;
using Tern.Protocol;
using Tern.Transport;

namespace Tern;

/// <summary>
/// A WebSocket server on plain sockets: accepts connections, performs the RFC 6455 handshake, routes each connection by
/// path to its handler, keeps connections alive, and shuts down cleanly.
/// </summary>
/// <example>
/// <code>
/// await using var server = new WebSocketServer(new WebSocketServerOptions { EndPoints = { new IPEndPoint(IPAddress.Loopback, 8080) } });
/// server.Map("/echo", async (connection, ct) =>
/// {
///     await foreach (var message in connection.ReadMessagesAsync(ct))
///         await connection.SendAsync(message, ct);
/// });
/// await server.StartAsync();
/// </code>
/// </example>
/// <remarks>
/// Configure routes before <see cref="StartAsync"/>. All other members are safe to call from any thread. Disposing the
/// server stops it (see <see cref="StopAsync"/>); nothing it starts keeps the process alive.
/// </remarks>
public sealed class WebSocketServer : IAsyncDisposable
{
    private readonly WebSocketServerOptions _options;
    private readonly ILogger _logger;
    private readonly BufferBudget _receiveBudget;
    private readonly ConnectionSettings _connectionSettings;
    private readonly TernMetrics _metrics;
    private readonly Dictionary<string, Func<WebSocketConnection, CancellationToken, Task>> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, WebSocketConnection> _connections = new();
    private readonly Action<object?> _leaveRegistry;
    private int _activeSessions;
    private TaskCompletionSource? _allSessionsEnded;
    private readonly ConcurrentDictionary<DuplexConnection, bool> _handshaking = new();
    private readonly List<Socket> _listeners = new();
    private readonly List<IPEndPoint> _localEndPoints = new();
    private Func<WebSocketConnection, CancellationToken, Task>? _fallback;
    private Timer? _keepAlive;
    private int _keepAliveRunning;
    private long _keepAlivePeriodMs;
    private long _lastKeepAliveTicks;
    private long _stalledMs;
    private int _started;
    private Task? _stopping;
    private ConnectionLimiter? _limiter;
    private long _acceptBackoffs;

    /// <summary>Creates a server; nothing listens until <see cref="StartAsync"/>.</summary>
    public WebSocketServer(WebSocketServerOptions? options = null)
    {
        _options = options ?? new WebSocketServerOptions();
        _logger = _options.LoggerFactory.CreateLogger("Tern.WebSocketServer");
        _receiveBudget = new BufferBudget(_options.MaxBufferedBytes);
        _metrics = new TernMetrics(this, _options.MeterFactory);
        _connectionSettings = new ConnectionSettings
        {
            MaxMessageSize = _options.MaxMessageSize,
            MaxSendQueueSize = _options.MaxSendQueueSize,
            CloseTimeout = _options.CloseTimeout,
            Logger = _logger,
            ReceiveBudget = _receiveBudget,
            SlowConsumerPolicy = _options.SlowConsumerPolicy,
            Metrics = _metrics,
        };
        _leaveRegistry = state => LeaveRegistry((WebSocketConnection)state!);
    }

    /// <summary>The addresses the server listens on, with the ports actually bound (useful with port 0).</summary>
    public IReadOnlyList<IPEndPoint> LocalEndPoints => _localEndPoints;

    /// <summary>The connections open now (a snapshot).</summary>
    public IReadOnlyCollection<WebSocketConnection> Connections => (IReadOnlyCollection<WebSocketConnection>)_connections.Values;

    /// <summary>How many connections are open now.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Bytes held now in messages being received, across all connections (see <see cref="WebSocketServerOptions.MaxBufferedBytes"/>).</summary>
    public long BufferedBytes => _receiveBudget.InUse;

    /// <summary>
    /// The most connections the server holds at once: <see cref="WebSocketServerOptions.MaxConnections"/>, or the limit
    /// derived from the file-descriptor limit when that option is not set. 0 until the server starts.
    /// </summary>
    public int MaxConnections => _limiter?.MaxConnections ?? 0;

    /// <summary>The connection bookkeeping (held, refused by reason); null until the server starts.</summary>
    internal ConnectionLimiter? Limiter => _limiter;

    /// <summary>How many times an accept loop backed off after a failed accept.</summary>
    internal long AcceptBackoffs => Interlocked.Read(ref _acceptBackoffs);

    /// <summary>The server's meter and instruments.</summary>
    internal TernMetrics Metrics => _metrics;

    /// <summary>Bytes queued for sending over all open connections; summed when metrics are collected, not kept per send.</summary>
    internal long SendQueueBytes
    {
        get
        {
            long total = 0;
            foreach (KeyValuePair<long, WebSocketConnection> entry in _connections)
            {
                total += entry.Value.QueuedBytes;
            }

            return total;
        }
    }

    /// <summary>Serves WebSocket connections on <paramref name="path"/> (exact, case-sensitive match, query ignored) with an async handler.</summary>
    /// <remarks>
    /// The handler owns the connection: when it returns, the server closes the connection (1000) if it is still open; when
    /// it throws, the server closes it with 1011. The token is canceled when the connection is dropped or the server stops.
    /// </remarks>
    public void Map(string path, Func<WebSocketConnection, CancellationToken, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfStarted();
        _routes[path] = handler;
    }

    /// <summary>Serves WebSocket connections on <paramref name="path"/> with callbacks.</summary>
    public void Map(string path, WebSocketHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Map(path, (connection, token) => RunCallbacksAsync(handler, connection, token));
    }

    /// <summary>Serves WebSocket connections on every path that no <see cref="Map(string, Func{WebSocketConnection, CancellationToken, Task})"/> matched. Without one, such requests get 404.</summary>
    public void MapFallback(Func<WebSocketConnection, CancellationToken, Task> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ThrowIfStarted();
        _fallback = handler;
    }

    /// <summary>Serves WebSocket connections on every unmatched path with callbacks.</summary>
    public void MapFallback(WebSocketHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        MapFallback((connection, token) => RunCallbacksAsync(handler, connection, token));
    }

    /// <summary>Binds the listening sockets and starts accepting. Returns once the server listens.</summary>
    /// <exception cref="SocketException">An address could not be bound (for example, the port is in use).</exception>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The server has already been started.");
        }

        IList<IPEndPoint> endPoints = _options.EndPoints.Count > 0 ? _options.EndPoints : [new IPEndPoint(IPAddress.Loopback, 0)];
        try
        {
            foreach (IPEndPoint endPoint in endPoints)
            {
                var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                _listeners.Add(listener);
                if (endPoint.Address.Equals(IPAddress.IPv6Any))
                {
                    listener.DualMode = true;
                }

                listener.Bind(endPoint);
                listener.Listen(512);
                _localEndPoints.Add((IPEndPoint)listener.LocalEndPoint!);
            }
        }
        catch
        {
            foreach (Socket listener in _listeners)
            {
                listener.Dispose();
            }

            throw;
        }

        _limiter = CreateLimiter();
        // Loads the hashing code now: loading an assembly takes descriptors, which may have run out by the first handshake.
        _ = Handshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ==");
        foreach (Socket listener in _listeners)
        {
            _ = AcceptLoopAsync(listener);
            Log.Listening(_logger, listener.LocalEndPoint, _limiter.MaxConnections);
        }

        if (_options.KeepAliveInterval > TimeSpan.Zero)
        {
            TimeSpan period = TimeSpan.FromMilliseconds(Math.Clamp(Math.Min(_options.KeepAliveInterval.TotalMilliseconds, _options.KeepAliveTimeout.TotalMilliseconds) / 4, 50, 1000));
            _keepAlivePeriodMs = (long)period.TotalMilliseconds;
            _lastKeepAliveTicks = Environment.TickCount64;
            _keepAlive = new Timer(_ => KeepAliveTick(), null, period, period);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Sends a text message to every open connection, or to <paramref name="connections"/>. The frame is encoded once.
    /// Never waits on a slow client: a connection whose send queue is over <see cref="WebSocketServerOptions.MaxSendQueueSize"/>
    /// gets nothing under <see cref="SlowConsumerPolicy.Drop"/> and is closed with 1008 otherwise, and connections that are
    /// closing are skipped.
    /// </summary>
    public ValueTask BroadcastTextAsync(string text, IEnumerable<WebSocketConnection>? connections = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] utf8 = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetByteCount(text));
        try
        {
            int length = Encoding.UTF8.GetBytes(text, utf8);
            BroadcastFrame(Opcode.Text, utf8.AsSpan(0, length), connections);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(utf8);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends a text message given as UTF-8 bytes (not checked: they must be valid) to every open connection, or to <paramref name="connections"/>; see <see cref="BroadcastTextAsync(string, IEnumerable{WebSocketConnection}?, CancellationToken)"/>.</summary>
    public ValueTask BroadcastTextAsync(ReadOnlyMemory<byte> utf8Text, IEnumerable<WebSocketConnection>? connections = null, CancellationToken cancellationToken = default)
    {
        BroadcastFrame(Opcode.Text, utf8Text.Span, connections);
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends a binary message to every open connection, or to <paramref name="connections"/>; see <see cref="BroadcastTextAsync(string, IEnumerable{WebSocketConnection}?, CancellationToken)"/>.</summary>
    public ValueTask BroadcastBinaryAsync(ReadOnlyMemory<byte> data, IEnumerable<WebSocketConnection>? connections = null, CancellationToken cancellationToken = default)
    {
        BroadcastFrame(Opcode.Binary, data.Span, connections);
        return ValueTask.CompletedTask;
    }

    private void BroadcastFrame(Opcode opcode, ReadOnlySpan<byte> payload, IEnumerable<WebSocketConnection>? connections)
    {
        // Server frames are unmasked, so one encoding serves every receiver.
        int headerLength = FrameHeader.GetLength(payload.Length, masked: false);
        byte[] frame = ArrayPool<byte>.Shared.Rent(headerLength + payload.Length);
        try
        {
            FrameHeader.Write(frame, opcode, fin: true, payload.Length);
            payload.CopyTo(frame.AsSpan(headerLength));
            int delivered = Broadcast(frame.AsSpan(0, headerLength + payload.Length), connections, _connections);
            _metrics.MessagesSent(opcode == Opcode.Text, payload.Length, delivered);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Queues the frame on each connection; returns on how many it was queued.</summary>
    private static int Broadcast(ReadOnlySpan<byte> frame, IEnumerable<WebSocketConnection>? connections, ConcurrentDictionary<long, WebSocketConnection> registry)
    {
        int delivered = 0;
        if (connections is null)
        {
            // Enumerating the registry itself, not its Values snapshot, which would copy every connection per message.
            foreach (KeyValuePair<long, WebSocketConnection> entry in registry)
            {
                delivered += entry.Value.DeliverBroadcast(frame) ? 1 : 0;
            }
        }
        else if (connections is IReadOnlyList<WebSocketConnection> list)
        {
            // Indexing a list or array allocates nothing, where its IEnumerable enumerator would, once per message.
            for (int i = 0; i < list.Count; i++)
            {
                delivered += list[i].DeliverBroadcast(frame) ? 1 : 0;
            }
        }
        else
        {
            foreach (WebSocketConnection connection in connections)
            {
                delivered += connection.DeliverBroadcast(frame) ? 1 : 0;
            }
        }

        return delivered;
    }

    /// <summary>
    /// Stops the server: stops accepting, sends 1001 Going Away to every connection, waits at most
    /// <see cref="WebSocketServerOptions.ShutdownTimeout"/> for the closing handshakes, drops whatever is left, and waits
    /// (bounded by the same timeout) for the handlers to return. Safe to call more than once.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        lock (_listeners)
        {
            _stopping ??= StopCoreAsync(cancellationToken);
            return _stopping;
        }
    }

    private async Task StopCoreAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        foreach (Socket listener in _listeners)
        {
            listener.Dispose();
        }

        _limiter?.Dispose();

        if (_keepAlive is not null)
        {
            await _keepAlive.DisposeAsync().ConfigureAwait(false);
        }

        foreach (DuplexConnection pending in _handshaking.Keys)
        {
            pending.Abort();
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.ShutdownTimeout);
        WebSocketConnection[] open = _connections.Values.ToArray();
        if (open.Length > 0)
        {
            Log.Stopping(_logger, open.Length);
        }

        await Task.WhenAll(open.Select(c => CloseForShutdownAsync(c, deadline.Token))).ConfigureAwait(false);
        foreach (WebSocketConnection connection in _connections.Values)
        {
            connection.Abort();
        }

        var allEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _allSessionsEnded, allEnded);
        if (Volatile.Read(ref _activeSessions) == 0)
        {
            allEnded.TrySetResult();
        }

        try
        {
            await allEnded.Task.WaitAsync(_options.ShutdownTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.StoppedWithHandlersRunning(_logger, Volatile.Read(ref _activeSessions));
        }

        Log.Stopped(_logger);
        // A server does not start again, so its meter ends with it (and stops rooting the server from the meter list).
        _metrics.Dispose();
    }

    private static async Task CloseForShutdownAsync(WebSocketConnection connection, CancellationToken deadline)
    {
        try
        {
            await connection.CloseAsync(WebSocketCloseCode.GoingAway, "Server shutting down", deadline).ConfigureAwait(false);
        }
        catch (Exception)
        {
            connection.Abort();
        }
    }

    /// <summary>Stops the server (see <see cref="StopAsync"/>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _started) == 0)
        {
            _metrics.Dispose();
            return;
        }

        await StopAsync().ConfigureAwait(false);
    }

    private void ThrowIfStarted()
    {
        if (Volatile.Read(ref _started) != 0)
        {
            throw new InvalidOperationException("Routes must be mapped before the server starts.");
        }
    }

    private ConnectionLimiter CreateLimiter()
    {
        long? fileLimit = FileDescriptorLimit.ReadSoftLimit();
        int maxConnections = _options.MaxConnections is > 0 and { } configured ? configured : FileDescriptorLimit.DeriveMaxConnections(fileLimit);
        // Refused sockets hold descriptors too, for up to two seconds each: they get half of what the file limit leaves
        // over the connection limit and the fixed reserve, so refusing does not run the process out of descriptors.
        int maxPendingRefusals = fileLimit is { } limit ? (int)Math.Clamp((limit - maxConnections - FileDescriptorLimit.Reserve) / 2, 1, 64) : 64;
        return new ConnectionLimiter(maxConnections, _options.MaxConnectionsPerAddress ?? 0, maxPendingRefusals,
            _options.MaxRequestHeadSize, _options.HandshakeTimeout, _logger);
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        var backoff = new AcceptBackoff(_logger, listener.LocalEndPoint);
        ConnectionLimiter limiter = _limiter!;
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_stopping is not null)
                {
                    return;
                }

                // Transient (out of descriptors or buffers, a connection reset before accept): keep accepting, after a
                // pause, since retrying at once fails the same way and only burns CPU and log space.
                Interlocked.Increment(ref _acceptBackoffs);
                if (e.SocketErrorCode == SocketError.TooManyOpenSockets)
                {
                    limiter.OnOutOfDescriptors();
                }

                await Task.Delay(backoff.OnFailure(e)).ConfigureAwait(false);
                continue;
            }

            backoff.OnSuccess();
            IPAddress address;
            try
            {
                socket.NoDelay = true;
                address = ((IPEndPoint)socket.RemoteEndPoint!).Address;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Reset by the peer between accept and here.
                socket.Dispose();
                continue;
            }

            if (!limiter.TryAdmit(socket, address))
            {
                continue;
            }

            _metrics.ConnectionAccepted();

            // Counted rather than kept in a collection: shutdown only needs to know when the last session ends.
            Interlocked.Increment(ref _activeSessions);
            _ = RunSessionAsync(socket, address);
        }
    }

    /// <summary>Takes an open connection out of the registry, once; the first to do so gives back its connection slot.</summary>
    private void LeaveRegistry(WebSocketConnection connection)
    {
        if (_connections.TryRemove(connection.Id, out _))
        {
            _limiter!.Release(connection.RemoteEndPoint.Address);
        }
    }

    private async Task RunSessionAsync(Socket socket, IPAddress address)
    {
        bool handedOver = false;
        // Until the connection is registered, this method owns its slot in the connection limits.
        bool registered = false;
        DuplexConnection? io = null;
        try
        {
            await Task.Yield();
            try
            {
                io = new DuplexConnection(new SocketTransport(socket));
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                socket.Dispose();
                return;
            }

            _handshaking.TryAdd(io, true);
            io.Start();
            WebSocketConnection? connection = null;
            Func<WebSocketConnection, CancellationToken, Task>? handler = null;
            try
            {
                (connection, handler) = await HandshakeAsync(io).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HandshakeFailed(_logger, e, io.Transport.RemoteEndPoint);
                io.Abort();
            }
            finally
            {
                _handshaking.TryRemove(io, out _);
            }

            if (connection is null || handler is null)
            {
                return;
            }

            _connections[connection.Id] = connection;
            registered = true;
            // The registry lists open connections: a connection leaves it as soon as it is dropped, even when its
            // handler is still running (one that ignores cancellation must not keep a dead connection counted).
            connection.OnAborted(_leaveRegistry);
            if (_stopping is not null)
            {
                // Accepted while the server was stopping: the shutdown sweep may have missed it.
                _ = CloseForShutdownAsync(connection, new CancellationTokenSource(_options.ShutdownTimeout).Token);
            }

            Log.ConnectionOpened(_logger, connection.Id, connection.RemoteEndPoint, new PeerText(connection.Path));
            _metrics.ConnectionOpened();
            // Not awaited here: this method's state is larger than the handler's part, and an open connection would
            // keep all of it alive for as long as it stays open. The session count passes to RunHandlerAsync.
            handedOver = true;
            _ = RunHandlerAsync(connection, handler);
        }
        finally
        {
            if (!registered)
            {
                // Every path that gets here has closed the socket already; aborting again makes sure of it before
                // the slot is given back.
                if (io is null)
                {
                    socket.Dispose();
                }
                else
                {
                    io.Abort();
                }

                _limiter!.Release(address);
            }

            if (!handedOver)
            {
                EndSession();
            }
        }
    }

    private async Task RunHandlerAsync(WebSocketConnection connection, Func<WebSocketConnection, CancellationToken, Task> handler)
    {
        try
        {
            await handler(connection, connection.Aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (connection.Aborted.IsCancellationRequested)
        {
        }
        catch (WebSocketClosedException) when (connection.State != WebSocketConnectionState.Open)
        {
            // The handler tried to send after the peer left: the normal end of a conversation, not a server error.
            Log.HandlerSentAfterClose(_logger, connection.Id);
        }
        catch (Exception e)
        {
            Log.HandlerThrew(_logger, _connectionSettings.LogThrottles.HandlerErrors, e, connection.Id);
            await CloseQuietlyAsync(connection, WebSocketCloseCode.InternalServerError, "Internal server error").ConfigureAwait(false);
        }
        finally
        {
            try
            {
                await CloseQuietlyAsync(connection, WebSocketCloseCode.NormalClosure, null).ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
                LeaveRegistry(connection);
                Log.ConnectionClosed(_logger, connection.Id, connection.CloseInfo);
            }
            finally
            {
                EndSession();
            }
        }
    }

    private void EndSession()
    {
        if (Interlocked.Decrement(ref _activeSessions) == 0)
        {
            Volatile.Read(ref _allSessionsEnded)?.TrySetResult();
        }
    }

    private static async Task CloseQuietlyAsync(WebSocketConnection connection, WebSocketCloseCode code, string? reason)
    {
        try
        {
            await connection.CloseAsync(code, reason).ConfigureAwait(false);
        }
        catch (Exception)
        {
            connection.Abort();
        }
    }

    /// <summary>Reads the request and answers it: a 101 and a connection, or a complete HTTP response and nothing.</summary>
    private async Task<(WebSocketConnection?, Func<WebSocketConnection, CancellationToken, Task>?)> HandshakeAsync(DuplexConnection io)
    {
        IPEndPoint remote = io.Transport.RemoteEndPoint;
        HttpRequestHead? request = null;
        HandshakeRefusal? refusal = null;
        var parser = new HttpRequestParser(_options.MaxRequestHeadSize, _options.MaxRequestHeaderCount);
        // Not linked to io.Aborted (an abort already wakes the reads): a registration on the connection's token would
        // leave its bookkeeping allocated there for the connection's whole life. It lives until the request is answered,
        // because a plain HTTP request's body must arrive within the same deadline as its head.
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout);
        try
        {
            while (request is null && refusal is null)
            {
                ReadResult result = await io.Input.ReadAsync(timeout.Token).ConfigureAwait(false);
                HttpParseStatus status = parser.TryParse(result.Buffer, out SequencePosition consumed, out request, out refusal);
                if (status == HttpParseStatus.NeedMoreData)
                {
                    io.Input.AdvanceTo(consumed, result.Buffer.End);
                    if (result.IsCompleted || result.IsCanceled)
                    {
                        io.Abort();
                        return default;
                    }
                }
                else
                {
                    io.Input.AdvanceTo(consumed);
                }
            }
        }
        catch (OperationCanceledException) when (!io.Aborted.IsCancellationRequested)
        {
            refusal = RequestTimedOut(remote);
        }
        catch (OperationCanceledException)
        {
            return default;
        }

        if (refusal is not null)
        {
            await RefuseAsync(io, refusal, request).ConfigureAwait(false);
            return default;
        }

        if (!Handshake.IsUpgradeRequest(request!))
        {
            await ServeHttpAsync(io, request!, timeout.Token).ConfigureAwait(false);
            return default;
        }

        refusal = Handshake.Validate(request!);
        Func<WebSocketConnection, CancellationToken, Task>? handler = null;
        if (refusal is null && !_routes.TryGetValue(request!.Path, out handler))
        {
            handler = _fallback;
            if (handler is null)
            {
                refusal = new HandshakeRefusal(404, $"No WebSocket endpoint at {request.Path}.");
            }
        }

        string? origin = request!.Headers["Origin"];
        if (refusal is null && origin is not null && _options.AllowedOrigins.Count > 0 && !_options.AllowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase))
        {
            refusal = new HandshakeRefusal(403, "This origin is not allowed.");
        }

        WebSocketHandshakeContext? context = null;
        if (refusal is null)
        {
            IReadOnlyList<string> offered = Handshake.GetOfferedSubprotocols(request);
            string? chosen = _options.Subprotocols.FirstOrDefault(s => offered.Contains(s, StringComparer.Ordinal));
            context = new WebSocketHandshakeContext(request, remote, offered, chosen);
            if (_options.OnHandshake is { } hook)
            {
                try
                {
                    await hook(context, io.Aborted).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.HandshakeHookThrew(_logger, e, remote);
                    context.Reject(500, "The server could not check this request.");
                }

                if (context.Subprotocol is { } picked && !offered.Contains(picked, StringComparer.Ordinal))
                {
                    Log.HookChoseUnofferedSubprotocol(_logger, remote, new PeerText(picked));
                    context.Reject(500, "The server chose a subprotocol the client did not offer.");
                }
            }

            refusal = context.Refusal;
        }

        if (refusal is not null)
        {
            await RefuseAsync(io, refusal, request).ConfigureAwait(false);
            return default;
        }

        try
        {
            Handshake.WriteAccept(io.BeginOutput(), request.Headers["Sec-WebSocket-Key"]!, context!.Subprotocol, extensions: null, context.ResponseHeaders);
        }
        catch (ArgumentException e)
        {
            io.CommitOutput();
            // A hook added a header a 101 cannot carry; WriteAccept wrote nothing.
            Log.HookInvalidResponseHeaders(_logger, e, remote);
            await RefuseAsync(io, new HandshakeRefusal(500, "The server produced an invalid handshake response."), request).ConfigureAwait(false);
            return default;
        }

        io.CommitOutput();
        var connection = new WebSocketConnection(io, request, context.Subprotocol, isClient: false, _connectionSettings);
        foreach (KeyValuePair<string, object?> item in context.Items)
        {
            connection.Items[item.Key] = item.Value;
        }

        return (connection, handler);
    }

    private async Task RefuseAsync(DuplexConnection io, HandshakeRefusal refusal, HttpRequestHead? request)
    {
        Log.HandshakeRefused(_logger, _connectionSettings.LogThrottles.Refusals, request?.Method, request?.Path, io.Transport.RemoteEndPoint, refusal.StatusCode, refusal.Reason);
        _metrics.HandshakeFailed(refusal.StatusCode);
        Handshake.WriteRefusal(io.BeginOutput(), refusal);
        io.CommitOutput();
        await FinishHttpAsync(io).ConfigureAwait(false);
    }

    private HandshakeRefusal RequestTimedOut(IPEndPoint remote)
    {
        Log.HandshakeTimeout(_logger, _connectionSettings.LogThrottles.HandshakeTimeouts, remote, _options.HandshakeTimeout);
        return new HandshakeRefusal(408, "The request did not arrive in time.");
    }

    /// <summary>
    /// Reads a plain request's body and hands the request to the HTTP handler. <paramref name="deadline"/> fires when
    /// the whole request, head and body, has taken longer than the handshake timeout.
    /// </summary>
    private async Task ServeHttpAsync(DuplexConnection io, HttpRequestHead request, CancellationToken deadline)
    {
        if (_options.HttpHandler is not { } httpHandler)
        {
            await RefuseAsync(io, new HandshakeRefusal(426, "This is a WebSocket server: connect with a WebSocket client.",
                [new("Upgrade", "websocket"), new("Sec-WebSocket-Version", "13")]), request).ConfigureAwait(false);
            return;
        }

        HandshakeRefusal? refusal = HttpRequestFraming.GetBodyLength(request, Math.Max(0, _options.MaxRequestBodySize), out long bodyLength);
        bool keepBody = bodyLength > 0 && !HttpRequestFraming.IgnoresBody(request.Method);

        // A body is held whole while its handler runs, so it counts against the same budget as messages being received:
        // a crowd of clients each posting the largest body cannot take more memory than that.
        if (refusal is null && keepBody && !_receiveBudget.TryReserve(bodyLength))
        {
            refusal = new HandshakeRefusal(503, "The server is busy: try again later.", [new("Retry-After", "5")]);
            keepBody = false;
        }

        if (refusal is not null)
        {
            await RefuseAsync(io, refusal, request).ConfigureAwait(false);
            return;
        }

        try
        {
            byte[]? body = keepBody ? GC.AllocateUninitializedArray<byte>((int)bodyLength) : null;
            try
            {
                if (!await HttpRequestBodyReader.ReadAsync(io.Input, bodyLength, body, deadline).ConfigureAwait(false))
                {
                    // The client ended its side in the middle of the body: there is no request to answer.
                    io.Abort();
                    return;
                }
            }
            catch (OperationCanceledException) when (!io.Aborted.IsCancellationRequested)
            {
                await RefuseAsync(io, RequestTimedOut(io.Transport.RemoteEndPoint), request).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await HandleHttpAsync(io, request, body, httpHandler).ConfigureAwait(false);
        }
        finally
        {
            if (keepBody)
            {
                _receiveBudget.Release(bodyLength);
            }
        }
    }

    private async Task HandleHttpAsync(DuplexConnection io, HttpRequestHead request, byte[]? body,
        Func<HttpRequestContext, CancellationToken, ValueTask> httpHandler)
    {
        var context = new HttpRequestContext(request, body, io.Transport.RemoteEndPoint, (response, _) =>
        {
            try
            {
                HttpResponseWriter.Write(io.BeginOutput(), response, headOnly: request.Method == "HEAD");
            }
            finally
            {
                io.CommitOutput();
            }

            return ValueTask.CompletedTask;
        });
        try
        {
            await httpHandler(context, io.Aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.HttpHandlerThrew(_logger, e, new PeerText(request.Method), new PeerText(request.Path));
            if (!context.HasResponded)
            {
                await context.RespondAsync(HttpResponse.Text(500, "Internal server error.")).ConfigureAwait(false);
            }
        }

        if (!context.HasResponded)
        {
            await context.RespondAsync(HttpResponse.Text(404, "Not found.")).ConfigureAwait(false);
        }

        Log.HttpRequestServed(_logger, new PeerText(request.Method), new PeerText(request.Path), io.Transport.RemoteEndPoint);
        await FinishHttpAsync(io).ConfigureAwait(false);
    }

    private async Task FinishHttpAsync(DuplexConnection io)
    {
        // Send the response, then wait briefly for the client to close its side so the response is not lost to a reset.
        if (await io.CompleteOutputAsync(_options.CloseTimeout).ConfigureAwait(false))
        {
            await io.DrainInputAsync(_options.CloseTimeout).ConfigureAwait(false);
        }

        io.Abort();
    }

    private void KeepAliveTick()
    {
        // A slow pass must not overlap the next timer tick (it would ping or drop the same connection twice).
        if (Interlocked.Exchange(ref _keepAliveRunning, 1) != 0)
        {
            return;
        }

        try
        {
            KeepAlivePass();
        }
        finally
        {
            Volatile.Write(ref _keepAliveRunning, 0);
        }
    }

    private void KeepAlivePass()
    {
        long now = Environment.TickCount64;
        long late = now - _lastKeepAliveTicks - _keepAlivePeriodMs;
        if (late > _keepAlivePeriodMs)
        {
            // The timer fired late: the process was stalled (starved of CPU, paused by a debugger or the GC), and pongs
            // may be sitting unread in the sockets. Keepalive timeouts run on a clock that skips the stall, so peers are
            // not dropped for the server's own delay (the false "keepalive ping timeout" of a blocked event loop).
            _stalledMs += late;
        }

        _lastKeepAliveTicks = now;
        long interval = (long)_options.KeepAliveInterval.TotalMilliseconds;
        long timeout = (long)_options.KeepAliveTimeout.TotalMilliseconds;
        foreach (WebSocketConnection connection in _connections.Values)
        {
            connection.KeepAliveTick(now, now - _stalledMs, interval, timeout);
        }
    }

    private static async Task RunCallbacksAsync(WebSocketHandler handler, WebSocketConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            if (handler.OnOpen is { } onOpen)
            {
                await onOpen(connection).ConfigureAwait(false);
            }

            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (handler.OnMessage is { } onMessage)
                {
                    await onMessage(connection, message).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (handler.OnError is { } onError)
            {
                await onError(connection, e).ConfigureAwait(false);
            }

            await CloseQuietlyAsync(connection, WebSocketCloseCode.InternalServerError, "Internal server error").ConfigureAwait(false);
        }
        finally
        {
            if (handler.OnClose is { } onClose)
            {
                await CloseQuietlyAsync(connection, WebSocketCloseCode.NormalClosure, null).ConfigureAwait(false);
                await onClose(connection, connection.CloseInfo ?? new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "")).ConfigureAwait(false);
            }
        }
    }
}
