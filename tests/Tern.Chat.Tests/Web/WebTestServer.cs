using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Tern.Chat.Accounts;
using Tern.Chat.Tests.Accounts;
using Tern.Chat.Web;
using Tern.Http;

namespace Tern.Chat.Tests.Web;

/// <summary>
/// A real Tern server on 127.0.0.1 (port 0) wired with <see cref="ChatWeb"/> over a SQLite file in a temp folder, as
/// the chat wires it: the API and page on the HTTP handler, the handshake check on OnHandshake. The WebSocket endpoint
/// /chat sends the signed-in username and closes when its session is revoked (4001), so tests can see both.
/// </summary>
internal sealed class WebTestServer : IAsyncDisposable
{
    private readonly TempDatabase _db;
    private readonly WebSocketServer _server;
    private readonly List<SessionsRevokedEventArgs> _revocations = [];

    private WebTestServer(TempDatabase db, ChatWeb web, WebSocketServer server)
    {
        _db = db;
        Web = web;
        _server = server;
    }

    public ChatWeb Web { get; }

    public int Port => _server.LocalEndPoints[0].Port;

    public Uri Url => new($"http://127.0.0.1:{Port}/");

    public Uri WebSocketUrl => new($"ws://127.0.0.1:{Port}/chat");

    /// <summary>The page's own origin.</summary>
    public string Origin => $"http://127.0.0.1:{Port}";

    /// <summary>Cookies are handled by hand, to see exactly what the server sets.</summary>
    public HttpClient Client { get; private set; } = null!;

    public string DatabaseDirectory => _db.Directory;

    public IReadOnlyList<SessionsRevokedEventArgs> Revocations
    {
        get
        {
            lock (_revocations)
            {
                return _revocations.ToArray();
            }
        }
    }

    public static async Task<WebTestServer> StartAsync(Action<ChatWebOptions>? configure = null)
    {
        var options = new ChatWebOptions { Accounts = TestAccountOptions.Fast() };
        configure?.Invoke(options);
        TempDatabase db = await TempDatabase.CreateAsync();
        var web = new ChatWeb(db.Database, options, StaticFileResponder.FromEmbeddedResources(typeof(ChatApp).Assembly, "wwwroot/"));
        var serverOptions = new WebSocketServerOptions
        {
            HttpHandler = web.HandleHttpAsync,
            OnHandshake = web.AuthenticateHandshakeAsync,
            MaxRequestBodySize = 64 * 1024,
        };
        serverOptions.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0));
        var server = new WebSocketServer(serverOptions);
        var test = new WebTestServer(db, web, server);
        web.Accounts.SessionsRevoked += test.OnSessionsRevoked;
        server.Map("/chat", async (connection, ct) =>
        {
            SignedInAccount account = SignedInAccount.From(connection.Items)!;
            await connection.SendTextAsync(account.Username, ct);
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        });
        await server.StartAsync();
        test.Client = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false }) { BaseAddress = test.Url };
        return test;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.DisposeAsync();
        await Web.DisposeAsync();
        await _db.DisposeAsync();
    }

    /// <summary>A POST with a JSON body and the page's own origin (unless told otherwise).</summary>
    public Task<HttpResponseMessage> PostAsync(string path, object? body, string? cookie = null, string? origin = "")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            // A string, as the page sends it: Content-Length, never chunked (Tern accepts only Content-Length bodies).
            Content = body is null ? new ByteArrayContent([]) : new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        if (origin is not null)
        {
            request.Headers.Add("Origin", origin.Length == 0 ? Origin : origin);
        }

        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return Client.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(string path, string? cookie = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (cookie is not null)
        {
            request.Headers.Add("Cookie", cookie);
        }

        return Client.SendAsync(request);
    }

    /// <summary>Signs up and returns the cookie pair ("tern_session=…") to send back.</summary>
    public async Task<string> SignUpAsync(string username, string password = "password1")
    {
        using HttpResponseMessage response = await PostAsync("/api/signup", new { username, password });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return CookiePair(response);
    }

    public async Task<string> LogInAsync(string username, string password = "password1")
    {
        using HttpResponseMessage response = await PostAsync("/api/login", new { username, password });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return CookiePair(response);
    }

    /// <summary>The one Set-Cookie header of a response.</summary>
    public static string SetCookie(HttpResponseMessage response) => Assert.Single(response.Headers.GetValues("Set-Cookie"));

    /// <summary>"tern_session=…" from the Set-Cookie header, as a Cookie header carries it.</summary>
    public static string CookiePair(HttpResponseMessage response) => SetCookie(response).Split(';')[0];

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    /// <summary>Sends raw bytes and returns everything the server answers until it closes the connection.</summary>
    public async Task<string> SendRawAsync(string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Port);
        NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(timeout.Token);
    }

    /// <summary>A WebSocket upgrade request head with the given Host, Origin and Cookie (null leaves a field out).</summary>
    public static string Upgrade(string? host, string? origin, string? cookie)
    {
        var head = new StringBuilder("GET /chat HTTP/1.1\r\n");
        if (host is not null)
        {
            head.Append("Host: ").Append(host).Append("\r\n");
        }

        head.Append("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n");
        if (origin is not null)
        {
            head.Append("Origin: ").Append(origin).Append("\r\n");
        }

        if (cookie is not null)
        {
            head.Append("Cookie: ").Append(cookie).Append("\r\n");
        }

        return head.Append("\r\n").ToString();
    }

    private void OnSessionsRevoked(object? sender, SessionsRevokedEventArgs e)
    {
        lock (_revocations)
        {
            _revocations.Add(e);
        }

        foreach (WebSocketConnection connection in _server.Connections)
        {
            if (SignedInAccount.From(connection.Items) is { } account && account.AccountId == e.AccountId && (e.TokenHash is null || e.TokenHash == account.TokenHash))
            {
                _ = connection.CloseAsync((WebSocketCloseCode)4001, "signed out");
            }
        }
    }
}

/// <summary>Tests that each get a fresh <see cref="WebTestServer"/> with the default options.</summary>
public abstract class WebServerTest : IAsyncLifetime
{
    private WebTestServer? _server;

    internal WebTestServer Server => _server ?? throw new InvalidOperationException("Not started.");

    /// <inheritdoc/>
    public async Task InitializeAsync() => _server = await WebTestServer.StartAsync();

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
