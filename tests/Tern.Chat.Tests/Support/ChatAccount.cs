using System.Net;
using System.Net.WebSockets;
using System.Text.Json;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// A person with an account on a running chat: signs up or in over the HTTP API and opens sockets with its session
/// cookie. The site is the page's address: a chat server, one node of several, or the proxy in front of them (the
/// cookie is the host's, so it works on every node of 127.0.0.1 whatever the port).
/// </summary>
public sealed class ChatAccount : IAsyncDisposable
{
    private readonly CookieContainer _cookies = new();
    private readonly List<WebSocketTestClient> _sockets = [];

    private ChatAccount(Uri site, string username, string password)
    {
        Site = site;
        Username = username;
        Password = password;
        Http = new HttpClient(new HttpClientHandler { CookieContainer = _cookies, UseCookies = true }) { BaseAddress = site, Timeout = TimeSpan.FromSeconds(20) };
        Http.DefaultRequestHeaders.Add("Origin", site.GetLeftPart(UriPartial.Authority));
    }

    /// <summary>The page's address where the account signed up or in.</summary>
    public Uri Site { get; }

    public string Username { get; }

    public string Password { get; }

    public HttpClient Http { get; }

    /// <summary>The cookies of the account's session, for a client of its own.</summary>
    public CookieContainer Cookies => _cookies;

    /// <summary>The session cookie's value, or null when signed out.</summary>
    public string? SessionToken => _cookies.GetCookies(Site)["tern_session"]?.Value;

    public static Task<ChatAccount> SignUpAsync(ChatServer server, string username, string password = "correct horse battery") =>
        SignUpAsync(server.Url, username, password);

    public static Task<ChatAccount> SignInAsync(ChatServer server, string username, string password = "correct horse battery") =>
        SignInAsync(server.Url, username, password);

    public static Task<ChatAccount> SignUpAsync(Uri site, string username, string password = "correct horse battery") =>
        SignAsync(site, "/api/signup", username, password, HttpStatusCode.Created);

    public static Task<ChatAccount> SignInAsync(Uri site, string username, string password = "correct horse battery") =>
        SignAsync(site, "/api/login", username, password, HttpStatusCode.OK);

    /// <summary>
    /// Opens a chat socket with this account's cookie and the page's Origin, at <paramref name="site"/> (default: where
    /// the account signed in), and waits for hello.
    /// </summary>
    public async Task<WebSocketTestClient> ConnectAsync(Uri? site = null)
    {
        site ??= Site;
        WebSocketTestClient socket = await WebSocketTestClient.ConnectAsync(ChatSocketUrl(site), options =>
        {
            options.Cookies = _cookies;
            options.SetRequestHeader("Origin", site.GetLeftPart(UriPartial.Authority));
        });
        _sockets.Add(socket);
        return socket;
    }

    /// <summary>The chat socket's address for a page address: ws or wss, the same authority, /chat.</summary>
    public static Uri ChatSocketUrl(Uri site) =>
        new UriBuilder(site) { Scheme = site.Scheme == "https" ? "wss" : "ws", Path = ChatApp.WebSocketPath }.Uri;

    public async ValueTask DisposeAsync()
    {
        foreach (WebSocketTestClient socket in _sockets)
        {
            await socket.DisposeAsync();
        }

        Http.Dispose();
    }

    private static async Task<ChatAccount> SignAsync(Uri site, string path, string username, string password, HttpStatusCode expected)
    {
        var account = new ChatAccount(site, username, password);
        HttpResponseMessage response = await account.Http.PostJsonAsync(path, new { username, password });
        if (response.StatusCode != expected)
        {
            account.Http.Dispose();
            Assert.Fail($"{path} for {username} at {site}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        return account;
    }
}

/// <summary>Conveniences for the protocol's requests.</summary>
public static class ChatRequests
{
    /// <summary>
    /// Posts JSON with a Content-Length, as browsers do (HttpClient's JsonContent streams it chunked, which Tern's
    /// HTTP handler refuses with 501).
    /// </summary>
    public static Task<HttpResponseMessage> PostJsonAsync(this HttpClient http, string path, object body) =>
        http.PostAsync(path, new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json"));

    public static async Task<JsonElement> JoinRoomAsync(this WebSocketTestClient socket, string room)
    {
        await socket.SendAsync(new { type = "join", room });
        return await socket.WaitForAsync("joined", m => m.GetProperty("conversation").Str("name") == room);
    }

    public static async Task<long> OpenDirectAsync(this WebSocketTestClient socket, string username)
    {
        await socket.SendAsync(new { type = "dm", username });
        JsonElement opened = await socket.WaitForAsync("conversation", m => m.GetProperty("conversation").GetProperty("with").Str("username") == username);
        return opened.GetProperty("conversation").GetProperty("id").GetInt64();
    }

    public static async Task<JsonElement> SayAsync(this WebSocketTestClient socket, long conversation, string text)
    {
        string clientRef = Guid.NewGuid().ToString("N");
        await socket.SendAsync(new { type = "say", conversation, text, @ref = clientRef });
        return await socket.WaitForAnswerAsync(clientRef);
    }

    /// <summary>The message or error that answers the request with this ref.</summary>
    public static Task<JsonElement> WaitForAnswerAsync(this WebSocketTestClient socket, string clientRef, string? type = null) =>
        socket.WaitForAnyAsync(m => m.TryGetProperty("ref", out JsonElement r) && r.GetString() == clientRef && (type is null || m.Str("type") is var t && (t == type || t == "error")));
}
