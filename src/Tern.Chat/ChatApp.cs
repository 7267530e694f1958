using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Http;

namespace Tern.Chat;

/// <summary>
/// The running chat: one Tern server on one port serving the page (embedded in this assembly) on every path and the
/// chat on the WebSocket endpoint <see cref="WebSocketPath"/>, with the hub, its store and its fan-out.
/// </summary>
public sealed class ChatApp : IAsyncDisposable
{
    /// <summary>The WebSocket endpoint's path.</summary>
    public const string WebSocketPath = "/chat";

    /// <summary>
    /// Largest WebSocket message accepted: room for the longest text even if every character were escaped, plus the
    /// envelope. Bigger frames are refused by Tern with 1009 before they reach the hub.
    /// </summary>
    public const int MaxMessageSize = 64 * 1024;

    private readonly WebSocketServer _server;
    private readonly LegacyChatHub _hub;
    private readonly IChatStore _store;
    private readonly ILogger _logger;
    private int _stopped;

    private ChatApp(WebSocketServer server, LegacyChatHub hub, IChatStore store, Uri url, string historyLocation, ILogger logger)
    {
        _server = server;
        _hub = hub;
        _store = store;
        Url = url;
        HistoryLocation = historyLocation;
        _logger = logger;
    }

    /// <summary>The page's address.</summary>
    public Uri Url { get; }

    /// <summary>The WebSocket endpoint's address.</summary>
    public Uri WebSocketUrl => new UriBuilder(Url) { Scheme = "ws", Path = WebSocketPath }.Uri;

    /// <summary>The addresses the server listens on, with their bound ports.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints => _server.LocalEndPoints;

    /// <summary>The database file's full path, or "memory".</summary>
    public string HistoryLocation { get; }

    /// <summary>The hub, for inspection.</summary>
    public LegacyChatHub Hub => _hub;

    /// <summary>Opens the store and starts listening.</summary>
    /// <exception cref="ChatOptionsException">The host cannot be resolved.</exception>
    /// <exception cref="SocketException">The port cannot be bound (in use, or not permitted).</exception>
    public static async Task<ChatApp> StartAsync(ChatOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        IReadOnlyList<IPAddress> addresses = await ResolveHostAsync(options.Host, options.Port, cancellationToken).ConfigureAwait(false);

        IChatStore store;
        string historyLocation;
        if (options.DatabasePath == ChatOptions.InMemoryDatabase)
        {
            store = new InMemoryChatStore();
            historyLocation = "memory (lost when the chat stops)";
        }
        else
        {
            var sqlite = await SqliteChatStore.OpenAsync(options.DatabasePath, cancellationToken).ConfigureAwait(false);
            store = sqlite;
            historyLocation = sqlite.Path;
        }

        try
        {
            ChatApp? app = null;
            for (int attempt = 0; app is null; attempt++)
            {
                WebSocketServer server = CreateServer(addresses, options.Port, loggerFactory);
                var hub = new LegacyChatHub(store, new LegacyLocalChatFanout(), new WebSocketChatTransport(server), options.Hub, TimeProvider.System, loggerFactory.CreateLogger<LegacyChatHub>());
                ILogger connectionLogger = loggerFactory.CreateLogger("Tern.Chat.Connections");
                server.Map(WebSocketPath, (connection, ct) => RunConnectionAsync(hub, connection, connectionLogger, ct));
                try
                {
                    await server.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (attempt == 0 && addresses.Count > 1 && addresses.Any(a => a.AddressFamily == AddressFamily.InterNetworkV6) && FindSocketError(e) is not SocketError.AddressAlreadyInUse)
                {
                    // "localhost" on a machine without IPv6: IPv4 alone is fine.
                    await hub.DisposeAsync().ConfigureAwait(false);
                    await server.DisposeAsync().ConfigureAwait(false);
                    addresses = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToArray();
                    continue;
                }
                catch
                {
                    await hub.DisposeAsync().ConfigureAwait(false);
                    await server.DisposeAsync().ConfigureAwait(false);
                    throw;
                }

                app = new ChatApp(server, hub, store, MakeUrl(options.Host, server.LocalEndPoints[0]), historyLocation, loggerFactory.CreateLogger<ChatApp>());
            }

            return app;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes every connection (1001 Going Away), then the store.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            await _server.StopAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await _server.DisposeAsync().ConfigureAwait(false);
            await _hub.DisposeAsync().ConfigureAwait(false);
            await _store.DisposeAsync().ConfigureAwait(false);
            _logger.LogInformation("Stopped");
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>The SocketError behind a failure to start, if that is what it was.</summary>
    public static SocketError? FindSocketError(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException socketException)
            {
                return socketException.SocketErrorCode;
            }
        }

        return null;
    }

    private static WebSocketServer CreateServer(IReadOnlyList<IPAddress> addresses, int port, ILoggerFactory loggerFactory)
    {
        var serverOptions = new WebSocketServerOptions
        {
            MaxMessageSize = MaxMessageSize,
            LoggerFactory = loggerFactory,
            HttpHandler = StaticFileResponder.FromEmbeddedResources(typeof(ChatApp).Assembly, "wwwroot/").HandleAsync,
        };
        foreach (IPAddress address in addresses)
        {
            serverOptions.EndPoints.Add(new IPEndPoint(address, port));
        }

        return new WebSocketServer(serverOptions);
    }

    private static async Task RunConnectionAsync(LegacyChatHub hub, WebSocketConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        var client = new WebSocketChatClient(connection);
        logger.LogInformation("Connection {Id} opened from {Remote}", connection.Id, connection.RemoteEndPoint);
        try
        {
            await hub.ConnectAsync(client, cancellationToken).ConfigureAwait(false);
            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (message.IsText)
                {
                    await hub.ReceiveAsync(client, message.Data, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await hub.ReceiveBinaryAsync(client, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The server is stopping.
        }
        finally
        {
            await hub.DisconnectAsync(client).ConfigureAwait(false);
            // Tern closes the connection after this handler returns; a connection still open here ends normally.
            WebSocketCloseInfo? info = connection.CloseInfo;
            logger.LogInformation("Connection {Id} from {Remote} closed: {Code} {Reason}", connection.Id, connection.RemoteEndPoint,
                info is null ? 1000 : (int)info.Code, new Tern.Diagnostics.PeerText(info?.Reason));
        }
    }

    private static async Task<IReadOnlyList<IPAddress>> ResolveHostAsync(string host, int port, CancellationToken cancellationToken)
    {
        switch (host)
        {
            case "*" or "0.0.0.0":
                return [IPAddress.Any];
            case "::" or "[::]":
                return [IPAddress.IPv6Any];
            case "localhost":
                // Port 0 on two addresses would pick two different ports; one is enough then.
                return port == 0 || !Socket.OSSupportsIPv6 ? [IPAddress.Loopback] : [IPAddress.Loopback, IPAddress.IPv6Loopback];
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out IPAddress? address))
        {
            return [address];
        }

        try
        {
            IPAddress[] resolved = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            if (resolved.Length > 0)
            {
                return port == 0 ? [resolved[0]] : resolved;
            }
        }
        catch (SocketException)
        {
        }

        throw new ChatOptionsException($"Cannot resolve the host '{host}'.");
    }

    private static Uri MakeUrl(string host, IPEndPoint bound)
    {
        string name = bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any) || IPAddress.IsLoopback(bound.Address) && host == "localhost"
            ? "localhost"
            : IPAddress.TryParse(host.Trim('[', ']'), out _) ? (bound.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{bound.Address}]" : bound.Address.ToString())
            : host;
        return new Uri($"http://{name}:{bound.Port}/");
    }
}
