using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Accounts;
using Tern.Chat.Cluster;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Chat.Web;
using Tern.Http;

namespace Tern.Chat;

/// <summary>
/// The running chat: one Tern server on one port serving the page (embedded in this assembly) and the account API
/// (<see cref="ChatWeb"/>) over HTTP, and the chat on the WebSocket endpoint <see cref="WebSocketPath"/> for signed-in
/// people, with the hub, its store and its fan-out.
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
    private readonly ChatHub _hub;
    private readonly ChatWeb _web;
    private readonly IChatStore _store;
    private readonly IChatFanout _fanout;
    private readonly ILogger _logger;
    private int _stopped;

    private ChatApp(WebSocketServer server, ChatHub hub, ChatWeb web, IChatStore store, IChatFanout fanout, Uri url, string historyLocation, ILogger logger)
    {
        _server = server;
        _hub = hub;
        _web = web;
        _store = store;
        _fanout = fanout;
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

    /// <summary>The database file's full path, a note that it is in memory, or the PostgreSQL database and server.</summary>
    public string HistoryLocation { get; }

    /// <summary>How events reach the other nodes: <see cref="PostgresChatFanout"/> on PostgreSQL, else <see cref="LocalChatFanout"/>.</summary>
    public IChatFanout Fanout => _fanout;

    /// <summary>The hub, for inspection.</summary>
    public ChatHub Hub => _hub;

    /// <summary>Accounts and sessions, for inspection.</summary>
    public AccountService Accounts => _web.Accounts;

    /// <summary>Opens the store (migrating it when it is older) and starts listening.</summary>
    /// <exception cref="ChatOptionsException">The host cannot be resolved.</exception>
    /// <exception cref="SocketException">The port cannot be bound (in use, or not permitted).</exception>
    public static async Task<ChatApp> StartAsync(ChatOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        IReadOnlyList<IPAddress> addresses = await ResolveHostAsync(options.Host, options.Port, cancellationToken).ConfigureAwait(false);
        WebSocketTlsOptions? tls = options.LoadTls();
        (IChatStore store, string historyLocation) = await OpenStoreAsync(options, cancellationToken).ConfigureAwait(false);
        var webOptions = new ChatWebOptions
        {
            AllowedHosts = options.GetAllowedHostList() is { Count: > 0 } hosts ? hosts : ["*"],
            AllowedOrigins = options.AllowedOriginList,
            TrustedProxies = options.TrustedProxyList,
            // Served as https (by Tern itself, or a proxy): Secure cookies, and the page's own origin is https.
            SecureCookies = options.SecureCookies || tls is not null,
            Accounts = options.Accounts,
        };
        webOptions.Accounts.SessionLifetime = TimeSpan.FromDays(options.SessionDays);
        StaticFileResponder page = StaticFileResponder.FromEmbeddedResources(typeof(ChatApp).Assembly, "wwwroot/");

        IChatFanout fanout = new LocalChatFanout();
        try
        {
            if (store is PostgresChatDatabase postgres)
            {
                // Several nodes share the database: events reach all of them through it (docs/scale-out.md).
                fanout = await PostgresChatFanout.StartAsync(postgres, options.Cluster, loggerFactory.CreateLogger<PostgresChatFanout>(), cancellationToken).ConfigureAwait(false);
            }

            ChatApp? app = null;
            for (int attempt = 0; app is null; attempt++)
            {
                var web = new ChatWeb(store, webOptions, page, TimeProvider.System, loggerFactory);
                WebSocketServer server = CreateServer(addresses, options, tls, web, loggerFactory);
                var hub = new ChatHub(store, store, fanout, new WebSocketChatTransport(server), options.Hub, TimeProvider.System, loggerFactory.CreateLogger<ChatHub>());
                ILogger appLogger = loggerFactory.CreateLogger<ChatApp>();
                web.Accounts.SessionsRevoked += (_, e) => SignOut(hub, e, appLogger);
                ILogger connectionLogger = loggerFactory.CreateLogger("Tern.Chat.Connections");
                server.Map(WebSocketPath, (connection, ct) => RunConnectionAsync(hub, connection, connectionLogger, ct));
                try
                {
                    await server.StartAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (attempt == 0 && addresses.Count > 1 && addresses.Any(a => a.AddressFamily == AddressFamily.InterNetworkV6) && FindSocketError(e) is not SocketError.AddressAlreadyInUse)
                {
                    // "localhost" on a machine without IPv6: IPv4 alone is fine.
                    await DisposeAllAsync(server, hub, web).ConfigureAwait(false);
                    addresses = addresses.Where(a => a.AddressFamily == AddressFamily.InterNetwork).ToArray();
                    continue;
                }
                catch
                {
                    await DisposeAllAsync(server, hub, web).ConfigureAwait(false);
                    throw;
                }

                app = new ChatApp(server, hub, web, store, fanout, MakeUrl(options.Host, server.LocalEndPoints[0], tls is not null), historyLocation, appLogger);
            }

            return app;
        }
        catch
        {
            await DisposeFanoutAsync(fanout).ConfigureAwait(false);
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async ValueTask DisposeFanoutAsync(IChatFanout fanout)
    {
        if (fanout is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The store the options name (PostgreSQL when a connection string is given, else SQLite) and where it keeps things.</summary>
    private static async Task<(IChatStore Store, string Location)> OpenStoreAsync(ChatOptions options, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(options.Postgres))
        {
            PostgresChatDatabase postgres = await PostgresChatDatabase.OpenAsync(options.Postgres, cancellationToken).ConfigureAwait(false);
            return (postgres, postgres.Describe());
        }

        SqliteChatDatabase sqlite = await SqliteChatDatabase.OpenAsync(options.DatabasePath, cancellationToken).ConfigureAwait(false);
        return (sqlite, options.DatabasePath == ChatOptions.InMemoryDatabase ? "memory (lost when the chat stops)" : sqlite.Path);
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
            await DisposeAllAsync(_server, _hub, _web).ConfigureAwait(false);

            // After the hub: leaving the cluster tells the other nodes this node's accounts are gone.
            await DisposeFanoutAsync(_fanout).ConfigureAwait(false);
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

    private static WebSocketServer CreateServer(IReadOnlyList<IPAddress> addresses, ChatOptions options, WebSocketTlsOptions? tls, ChatWeb web, ILoggerFactory loggerFactory)
    {
        var serverOptions = new WebSocketServerOptions
        {
            MaxMessageSize = MaxMessageSize,
            // One person's many tabs fit; a script opening hundreds of sockets for one account or address does not.
            MaxConnectionsPerAddress = options.MaxConnectionsPerAddress > 0 ? options.MaxConnectionsPerAddress : null,
            MaxRequestBodySize = ChatHttpApi.MaxBodyBytes,
            LoggerFactory = loggerFactory,
            HttpHandler = web.HandleHttpAsync,
            // Host, Origin and session of every upgrade request: 400, 403 or 401 before the socket exists.
            OnHandshake = web.AuthenticateHandshakeAsync,
            // The page (https) and its socket (wss) on the same port.
            Tls = tls,
            // Chat traffic is JSON, which deflate shrinks several times over. The defaults keep no zlib state on idle
            // connections, and each message is compressed on its own, so its compressed size depends on that message
            // alone (see docs/compression.md on CRIME/BREACH).
            Compression = options.Deflate ? new WebSocketCompressionOptions() : null,
        };
        foreach (IPAddress address in addresses)
        {
            serverOptions.EndPoints.Add(new IPEndPoint(address, options.Port));
        }

        return new WebSocketServer(serverOptions);
    }

    private static async ValueTask DisposeAllAsync(WebSocketServer server, ChatHub hub, ChatWeb web)
    {
        await server.DisposeAsync().ConfigureAwait(false);
        await hub.DisposeAsync().ConfigureAwait(false);
        await web.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>A session ended (sign-out on one device, or everywhere): its sockets close with 4001.</summary>
    private static void SignOut(ChatHub hub, SessionsRevokedEventArgs revoked, ILogger logger)
    {
        ValueTask closing = hub.SignOutAsync(revoked.AccountId, revoked.TokenHash);
        if (!closing.IsCompletedSuccessfully)
        {
            _ = ObserveAsync(closing.AsTask(), logger);
        }

        static async Task ObserveAsync(Task task, ILogger logger)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Closing the sockets of a signed-out session failed");
            }
        }
    }

    private static async Task RunConnectionAsync(ChatHub hub, WebSocketConnection connection, ILogger logger, CancellationToken cancellationToken)
    {
        // The handshake hook let only signed-in people through and left who they are in the items.
        SignedInAccount account = SignedInAccount.From(connection.Items)
            ?? throw new InvalidOperationException("A chat connection without a signed-in account; the handshake check did not run.");
        // Behind a trusted proxy, the client it names (worked out from the upgrade request's headers), not the proxy.
        IPAddress address = ClientAddresses.From(connection.Items) ?? connection.RemoteEndPoint.Address;
        var client = new WebSocketChatClient(connection);
        var identity = new ChatIdentity(account.AccountId, account.Username, account.DisplayName, account.TokenHash);
        logger.LogInformation("Connection {Id} opened from {Remote} (client {Address}) for {Username}", connection.Id, connection.RemoteEndPoint, address, account.Username);
        try
        {
            await hub.ConnectAsync(client, identity, address.ToString(), cancellationToken).ConfigureAwait(false);
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

    private static Uri MakeUrl(string host, IPEndPoint bound, bool secure)
    {
        string name = bound.Address.Equals(IPAddress.Any) || bound.Address.Equals(IPAddress.IPv6Any) || IPAddress.IsLoopback(bound.Address) && host == "localhost"
            ? "localhost"
            : IPAddress.TryParse(host.Trim('[', ']'), out _) ? (bound.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{bound.Address}]" : bound.Address.ToString())
            : host;
        return new Uri($"{(secure ? "https" : "http")}://{name}:{bound.Port}/");
    }
}
