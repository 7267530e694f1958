using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Integration;

/// <summary>Accounts, sessions and conversations end to end: the real app on a loopback port, HttpClient and ClientWebSocket.</summary>
public sealed class MessengerIntegrationTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private ChatServer _server = null!;

    public async Task InitializeAsync() => _server = await ChatServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (IAsyncDisposable owned in _owned)
        {
            await owned.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    [Fact]
    public async Task The_chat_socket_needs_a_session_the_pages_own_origin_and_a_known_host()
    {
        ChatAccount alice = await SignUpAsync("alice");
        string origin = _server.Url.GetLeftPart(UriPartial.Authority);

        Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeStatusAsync(cookie: null, origin));
        Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeStatusAsync(cookie: "tern_session=forged-token", origin));
        Assert.Equal(HttpStatusCode.Forbidden, await HandshakeStatusAsync($"tern_session={alice.SessionToken}", "http://evil.example"));
        Assert.Equal(HttpStatusCode.BadRequest, await HandshakeStatusAsync($"tern_session={alice.SessionToken}", "http://evil.example:" + _server.Port, host: "evil.example:" + _server.Port));
        Assert.Equal(HttpStatusCode.SwitchingProtocols, await HandshakeStatusAsync($"tern_session={alice.SessionToken}", origin));

        WebSocketTestClient socket = await alice.ConnectAsync();
        JsonElement hello = socket.OfType("hello")[0];
        Assert.Equal("alice", hello.GetProperty("you").Str("username"));
    }

    [Fact]
    public async Task The_session_cookie_is_HttpOnly_and_SameSite_and_signing_out_revokes_it()
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = _server.Url };
        http.DefaultRequestHeaders.Add("Origin", _server.Url.GetLeftPart(UriPartial.Authority));
        HttpResponseMessage signup = await http.PostJsonAsync("/api/signup", new { username = "Bob", password = "a long passphrase" });
        Assert.True(signup.StatusCode == HttpStatusCode.Created, await signup.Content.ReadAsStringAsync());
        string setCookie = Assert.Single(signup.Headers.GetValues("Set-Cookie"));
        string token = setCookie.Split(';')[0]["tern_session=".Length..];

        Assert.StartsWith("tern_session=", setCookie, StringComparison.Ordinal);
        Assert.Contains("; HttpOnly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; SameSite=Lax", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("; Path=/", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Secure", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.True(token.Length >= 40, "A token of 32 random bytes");

        var session = new HttpRequestMessage(HttpMethod.Get, "/api/session");
        session.Headers.Add("Cookie", "tern_session=" + token);
        HttpResponseMessage me = await http.SendAsync(session);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("Bob", (await me.Content.ReadFromJsonAsync<JsonElement>()).Str("username"));

        var logout = new HttpRequestMessage(HttpMethod.Post, "/api/logout") { Content = new StringContent("{\"everywhere\":false}", Encoding.UTF8, "application/json") };
        logout.Headers.Add("Cookie", "tern_session=" + token);
        HttpResponseMessage loggedOut = await http.SendAsync(logout);
        Assert.Equal(HttpStatusCode.NoContent, loggedOut.StatusCode);
        Assert.Contains("Max-Age=0", Assert.Single(loggedOut.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);

        var again = new HttpRequestMessage(HttpMethod.Get, "/api/session");
        again.Headers.Add("Cookie", "tern_session=" + token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(again)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await HandshakeStatusAsync("tern_session=" + token, _server.Url.GetLeftPart(UriPartial.Authority)));
    }

    [Fact]
    public async Task A_foreign_origin_cannot_sign_in_or_out()
    {
        await SignUpAsync("carol");
        using var http = new HttpClient { BaseAddress = _server.Url };
        http.DefaultRequestHeaders.Add("Origin", "https://evil.example");

        HttpResponseMessage login = await http.PostJsonAsync("/api/login", new { username = "carol", password = "correct horse battery" });

        Assert.Equal(HttpStatusCode.Forbidden, login.StatusCode);
        Assert.Equal("bad_origin", (await login.Content.ReadFromJsonAsync<JsonElement>()).Str("error"));
        Assert.False(login.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task Signing_out_everywhere_closes_every_socket_of_the_account_with_4001_and_no_other()
    {
        ChatAccount laptop = await SignUpAsync("dana");
        ChatAccount phone = await SignInAsync("dana");
        ChatAccount erin = await SignUpAsync("erin");
        WebSocketTestClient laptopSocket = await laptop.ConnectAsync();
        WebSocketTestClient phoneSocket = await phone.ConnectAsync();
        WebSocketTestClient erinSocket = await erin.ConnectAsync();

        HttpResponseMessage response = await phone.Http.PostJsonAsync("/api/logout", new { everywhere = true });

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await laptopSocket.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await phoneSocket.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(4001, (int?)laptopSocket.CloseStatus);
        Assert.Equal(4001, (int?)phoneSocket.CloseStatus);
        Assert.Equal(WebSocketState.Open, erinSocket.State);
        Assert.Equal(HttpStatusCode.Unauthorized, (await laptop.Http.GetAsync("/api/session")).StatusCode);
    }

    [Fact]
    public async Task A_direct_conversation_is_readable_by_its_two_people_only_whatever_the_third_asks()
    {
        ChatAccount alice = await SignUpAsync("alice");
        ChatAccount bob = await SignUpAsync("bob");
        ChatAccount mallory = await SignUpAsync("mallory");
        WebSocketTestClient a = await alice.ConnectAsync();
        WebSocketTestClient b = await bob.ConnectAsync();
        WebSocketTestClient m = await mallory.ConnectAsync();
        long direct = await a.OpenDirectAsync("bob");
        JsonElement secret = await a.SayAsync(direct, "the vault code is swordfish");
        long secretId = secret.GetProperty("id").GetInt64();
        await b.WaitForAsync("message", x => x.GetProperty("id").GetInt64() == secretId);

        var attempts = new object[]
        {
            new { type = "history", conversation = direct, @ref = "h1" },
            new { type = "history", conversation = direct, after = 0, @ref = "h2" },
            new { type = "history", conversation = direct, before = secretId + 1, @ref = "h3" },
            new { type = "say", conversation = direct, text = "let me in", @ref = "s1" },
            new { type = "members", conversation = direct, @ref = "m1" },
            new { type = "edit", id = secretId, text = "changed", @ref = "e1" },
            new { type = "delete", id = secretId, @ref = "d1" },
            new { type = "search", query = "swordfish", conversation = direct, @ref = "q1" },
            new { type = "leave", conversation = direct, @ref = "l1" },
        };
        foreach (object attempt in attempts)
        {
            await m.SendAsync(attempt);
        }

        await m.SendAsync(new { type = "read", conversation = direct, id = secretId });
        await m.SendAsync(new { type = "typing", conversation = direct });
        await m.SendAsync(new { type = "search", query = "swordfish", @ref = "q2" });
        foreach (string clientRef in new[] { "h1", "h2", "h3", "s1", "m1", "e1", "d1", "q1", "l1" })
        {
            Assert.Equal("error", (await m.WaitForAnswerAsync(clientRef)).Str("type"));
        }

        JsonElement results = await m.WaitForAnswerAsync("q2");
        Assert.Equal("results", results.Str("type"));
        Assert.Empty(results.GetProperty("messages").EnumerateArray());
        Assert.DoesNotContain(m.Received, x => x.GetRawText().Contains("vault code", StringComparison.Ordinal));
        Assert.DoesNotContain(b.Received, x => x.Str("type") == "typing");

        // The two people still have it, unchanged.
        await b.SendAsync(new { type = "search", query = "swordfish", @ref = "q3" });
        JsonElement found = await b.WaitForAnswerAsync("q3");
        Assert.Equal(secretId, Assert.Single(found.GetProperty("messages").EnumerateArray()).GetProperty("id").GetInt64());
    }

    [Fact]
    public async Task Rooms_messages_and_read_positions_outlive_a_restart_and_reconnecting_announces_nothing()
    {
        ChatAccount alice = await SignUpAsync("alice");
        ChatAccount bob = await SignUpAsync("bob");
        WebSocketTestClient a = await alice.ConnectAsync();
        WebSocketTestClient b = await bob.ConnectAsync();
        var rooms = new Dictionary<string, long>();
        foreach (string room in new[] { "general", "design", "random" })
        {
            rooms[room] = (await a.JoinRoomAsync(room)).GetProperty("conversation").GetProperty("id").GetInt64();
        }

        await b.JoinRoomAsync("design");
        JsonElement said = await a.SayAsync(rooms["design"], "before the restart");

        await _server.RestartAsync();
        WebSocketTestClient a2 = await alice.ConnectAsync();
        WebSocketTestClient b2 = await bob.ConnectAsync();
        JsonElement hello = a2.OfType("hello")[0];
        string[] names = hello.GetProperty("conversations").EnumerateArray().Select(c => c.Str("name")).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["design", "general", "random"], names);
        JsonElement design = b2.OfType("hello")[0].GetProperty("conversations").EnumerateArray().Single(c => c.Str("name") == "design");
        Assert.Equal(1, design.GetProperty("unread").GetInt32());

        await b2.SendAsync(new { type = "history", conversation = rooms["design"], @ref = "h" });
        JsonElement history = await b2.WaitForAnswerAsync("h");
        Assert.Equal(said.GetProperty("id").GetInt64(), history.GetProperty("messages").EnumerateArray().Last().GetProperty("id").GetInt64());

        JsonElement after = await a2.SayAsync(rooms["design"], "after the restart");
        await b2.WaitForAsync("message", x => x.GetProperty("id").GetInt64() == after.GetProperty("id").GetInt64());
        Assert.DoesNotContain(b2.Received, x => x.Str("type") is "member_joined" or "member_left");
        Assert.DoesNotContain(a2.Received, x => x.Str("type") is "member_joined" or "member_left");
    }

    [Fact]
    public async Task The_password_is_stored_only_as_a_hash_and_never_logged()
    {
        const string password = "Tr0ub4dor&3-unique-marker";
        await ChatAccount.SignUpAsync(_server, "frank", password);
        await ChatAccount.SignInAsync(_server, "frank", password);
        using (var http = new HttpClient { BaseAddress = _server.Url })
        {
            http.DefaultRequestHeaders.Add("Origin", _server.Url.GetLeftPart(UriPartial.Authority));
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostJsonAsync("/api/login", new { username = "frank", password = password + "-wrong" })).StatusCode);
            Assert.Equal(HttpStatusCode.Conflict, (await http.PostJsonAsync("/api/signup", new { username = "FRANK", password })).StatusCode);
        }

        await _server.StopAsync();
        Assert.Contains(_server.Log.Lines, line => line.Contains("frank", StringComparison.Ordinal)); // the log does speak of him
        Assert.DoesNotContain(_server.Log.Lines, line => line.Contains("Tr0ub4dor", StringComparison.Ordinal));

        foreach (string file in Directory.GetFiles(Path.GetDirectoryName(_server.DatabasePath)!))
        {
            byte[] bytes = await File.ReadAllBytesAsync(file);
            Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(password)));
            Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(password)));
        }

        await _server.StartAgainAsync();
        await ChatAccount.SignInAsync(_server, "frank", password);
    }

    [Fact]
    public async Task Many_accounts_from_one_address_cannot_post_more_than_the_address_allows()
    {
        var sockets = new List<WebSocketTestClient>();
        long room = 0;
        for (int i = 0; i < 5; i++)
        {
            WebSocketTestClient socket = await (await SignUpAsync("poster" + i)).ConnectAsync();
            room = (await socket.JoinRoomAsync("flood")).GetProperty("conversation").GetProperty("id").GetInt64();
            sockets.Add(socket);
        }

        // 5 accounts × 20 = 100 within every account's own limit; the address allows 60 per 10 s (the 5 joins included).
        await Task.WhenAll(sockets.Select((socket, s) => Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            socket.SendAsync(new { type = "say", conversation = room, text = $"{s}-{i}", @ref = $"{s}-{i}" })))));
        IReadOnlyList<JsonElement>[] answers = await Task.WhenAll(sockets.Select(async (socket, s) =>
        {
            var list = new List<JsonElement>();
            for (int i = 0; i < 20; i++)
            {
                list.Add(await socket.WaitForAnswerAsync($"{s}-{i}"));
            }

            return (IReadOnlyList<JsonElement>)list;
        }));

        int stored = answers.SelectMany(a => a).Count(a => a.Str("type") == "message");
        int limited = answers.SelectMany(a => a).Count(a => a.Str("type") == "error" && a.Str("code") == "rate_limited");
        Assert.Equal(100, stored + limited);
        Assert.InRange(stored, 1, 60 - 5);
    }

    [Fact]
    public async Task One_address_holds_a_bounded_number_of_sockets_and_is_told_why()
    {
        await using ChatServer server = await ChatServer.StartAsync(configureApp: o => o.MaxConnectionsPerAddress = 3);
        await using ChatAccount account = await ChatAccount.SignUpAsync(server, "tabs");
        for (int i = 0; i < 3; i++)
        {
            await account.ConnectAsync();
        }

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Port);
        NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{server.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{server.Port}\r\nCookie: tern_session={account.SessionToken}\r\n\r\n"));
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        string response = Encoding.ASCII.GetString(buffer, 0, await stream.ReadAsync(buffer, timeout.Token));

        Assert.StartsWith("HTTP/1.1 503", response, StringComparison.Ordinal);
        Assert.Contains("Retry-After:", response, StringComparison.OrdinalIgnoreCase);
    }

    private async Task<ChatAccount> SignUpAsync(string username)
    {
        ChatAccount account = await ChatAccount.SignUpAsync(_server, username);
        _owned.Add(account);
        return account;
    }

    private async Task<ChatAccount> SignInAsync(string username)
    {
        ChatAccount account = await ChatAccount.SignInAsync(_server, username);
        _owned.Add(account);
        return account;
    }

    /// <summary>The status of a raw upgrade request with the given cookie, Origin and Host.</summary>
    private async Task<HttpStatusCode> HandshakeStatusAsync(string? cookie, string origin, string? host = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port);
        NetworkStream stream = tcp.GetStream();
        string request = $"GET /chat HTTP/1.1\r\nHost: {host ?? "127.0.0.1:" + _server.Port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                         $"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n" +
                         (cookie is null ? "" : $"Cookie: {cookie}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var buffer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read = await stream.ReadAsync(buffer, timeout.Token);
        string statusLine = Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        return (HttpStatusCode)int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
