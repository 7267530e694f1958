using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tern.Diagnostics;
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
public sealed partial class WebSocketServer : IAsyncDisposable
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
            Compression = _options.Compression,
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

        // Before binding: a TLS configuration without a usable certificate fails here, not at the first client.
        _tls = _options.Tls?.CreateAuthenticationOptions();
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
        LoadConnectionCode();
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
    /// Loads now what the first connection would otherwise load on the way: the handshake's hashing (SHA-1, from
    /// System.Security.Cryptography and its native library), the input pipe (System.IO.Pipelines) and the send queues'
    /// shared IOQueues (whose setup uses System.Linq). Loading an assembly opens its file, and a crowd of clients
    /// arriving at once can take the last descriptors under the file limit before the first handshake runs: the open
    /// then fails with EMFILE and that first upgrade with it (a held connection got no 101 under ulimit -n 256).
    /// </summary>
    private static void LoadConnectionCode()
    {
        _ = Handshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ==");
        DuplexConnection.LoadCode();
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
        // On a TLS port the canned 503 would have to follow a TLS handshake, which costs more than the refusal saves:
        // refused sockets are closed at once.
        if (_tls is not null)
        {
            maxPendingRefusals = 0;
        }

        return new ConnectionLimiter(maxConnections, _options.MaxConnectionsPerAddress ?? 0, maxPendingRefusals,
            _options.MaxRequestHeadSize, _options.HandshakeTimeout, _logger);
    }
}
