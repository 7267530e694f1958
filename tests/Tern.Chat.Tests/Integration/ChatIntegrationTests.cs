using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Integration;

/// <summary>The chat over real loopback sockets, with System.Net.WebSockets clients.</summary>
public sealed class ChatIntegrationTests : IAsyncLifetime
{
    private ChatServer _server = null!;
    private readonly List<WebSocketTestClient> _clients = [];

    public async Task InitializeAsync() => _server = await ChatServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (WebSocketTestClient client in _clients)
        {
            await client.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    [Fact]
    public async Task The_page_and_its_files_come_from_the_same_port()
    {
        using var http = new HttpClient { BaseAddress = _server.Url, Timeout = TimeSpan.FromSeconds(10) };

        HttpResponseMessage page = await http.GetAsync("/");
        string html = await page.Content.ReadAsStringAsync();
        HttpResponseMessage script = await http.GetAsync("/app.js");
        HttpResponseMessage style = await http.GetAsync("/app.css");
        HttpResponseMessage icon = await http.GetAsync("/icon.svg");
        HttpResponseMessage manifest = await http.GetAsync("/manifest.webmanifest");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<title>Tern Chat</title>", html, StringComparison.Ordinal);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal("text/css", style.Content.Headers.ContentType?.MediaType);
        Assert.Equal("image/svg+xml", icon.Content.Headers.ContentType?.MediaType);
        Assert.Equal("application/manifest+json", manifest.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Http_rules_hold_over_real_sockets()
    {
        using var http = new HttpClient { BaseAddress = _server.Url, Timeout = TimeSpan.FromSeconds(10) };

        HttpResponseMessage first = await http.GetAsync("/app.js");
        var revalidate = new HttpRequestMessage(HttpMethod.Get, "/app.js");
        revalidate.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        HttpResponseMessage notModified = await http.SendAsync(revalidate);
        HttpResponseMessage head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/"));
        HttpResponseMessage post = await http.PostAsync("/", new StringContent("x"));
        HttpResponseMessage missing = await http.GetAsync("/nothing-here.html");
        HttpResponseMessage traversal = await RawGetAsync("/%2e%2e/%2e%2e/etc/passwd");
        HttpResponseMessage encodedSlash = await RawGetAsync("/..%2f..%2fetc%2fpasswd");

        Assert.NotNull(first.Headers.ETag);
        Assert.NotNull(first.Content.Headers.LastModified);
        Assert.Equal("no-cache", first.Headers.CacheControl?.ToString());
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.True(head.Content.Headers.ContentLength > 100);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal(["GET", "HEAD"], post.Content.Headers.Allow.Order());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, traversal.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, encodedSlash.StatusCode);
    }

    [Fact]
    public async Task Several_clients_chat_in_one_order_with_presence_and_private_messages()
    {
        WebSocketTestClient alice = await ConnectAsync();
        WebSocketTestClient bob = await ConnectAsync();
        WebSocketTestClient carol = await ConnectAsync();
        await alice.JoinAsync("general", "alice");
        await bob.JoinAsync("general", "bob");
        JsonElement carolJoined = await carol.JoinAsync("general", "carol");

        Assert.Equal(["alice", "bob", "carol"], carolJoined.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
        await alice.WaitForAsync("join", m => m.Str("nick") == "carol");

        Task[] senders = [.. new[] { alice, bob, carol }.Select(async client =>
        {
            for (int i = 0; i < 5; i++)
            {
                await client.SendAsync(new { type = "say", room = "general", text = $"message {i}" });
            }
        })];
        await Task.WhenAll(senders);

        IReadOnlyList<long>[] orders = await Task.WhenAll(new[] { alice, bob, carol }.Select(async client =>
            (IReadOnlyList<long>)(await client.WaitForCountAsync("message", 15)).Select(m => m.Long("id")).ToArray()));
        Assert.Equal(orders[0].Order(), orders[0]);
        Assert.Equal(orders[0], orders[1]);
        Assert.Equal(orders[0], orders[2]);

        await bob.SendAsync(new { type = "private", room = "general", to = "alice", text = "just you", @ref = "p" });
        JsonElement whisper = await alice.WaitForAsync("private");
        Assert.Equal("bob", whisper.Str("from"));
        Assert.Equal("p", (await bob.WaitForAsync("private")).Str("ref"));

        await bob.SendAsync(new { type = "say", room = "general", text = "after the whisper" });
        await carol.WaitForAsync("message", m => m.Str("text") == "after the whisper");
        Assert.Empty(carol.OfType("private"));
    }

    [Fact]
    public async Task Bad_input_gets_an_error_and_the_connection_carries_on()
    {
        WebSocketTestClient alice = await ConnectAsync();
        WebSocketTestClient bob = await ConnectAsync();
        await alice.JoinAsync("general", "alice");
        await bob.JoinAsync("general", "bob");

        await alice.SendRawAsync("{oops");
        await alice.SendRawAsync("""{"type":"shout","room":"general"}""");
        await alice.SendRawAsync("""{"type":"say","room":"general"}""");
        await alice.SendAsync(new { type = "say", room = "general", text = new string('a', 4001) });
        WebSocketTestClient impostor = await ConnectAsync();
        await impostor.SendAsync(new { type = "join", room = "general", nick = "ALICE" });
        await alice.SendAsync(new { type = "say", room = "general", text = "fine" });

        await bob.WaitForAsync("message", m => m.Str("text") == "fine");
        Assert.Equal(["bad_json", "unknown_type", "missing_field", "text_too_long"], (await alice.WaitForCountAsync("error", 4)).Select(e => e.Str("code")));
        Assert.Equal("nick_taken", (await impostor.WaitForAsync("error")).Str("code"));
        Assert.Empty(bob.OfType("error"));
        Assert.Equal(WebSocketState.Open, alice.State);
    }

    [Fact]
    public async Task A_frame_over_the_size_limit_is_closed_with_1009_and_the_others_carry_on()
    {
        WebSocketTestClient alice = await ConnectAsync();
        WebSocketTestClient bob = await ConnectAsync();
        await alice.JoinAsync("general", "alice");
        await bob.JoinAsync("general", "bob");

        await alice.SendRawAsync(JsonSerializer.Serialize(new { type = "say", room = "general", text = new string('a', ChatApp.MaxMessageSize) }));
        await alice.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await bob.SendAsync(new { type = "say", room = "general", text = "still working" });

        Assert.Equal((WebSocketCloseStatus)1009, alice.CloseStatus);
        Assert.Equal("still working", (await bob.WaitForAsync("message")).Str("text"));
    }

    [Fact]
    public async Task Flooding_is_limited_per_connection()
    {
        WebSocketTestClient alice = await ConnectAsync();
        WebSocketTestClient bob = await ConnectAsync();
        await alice.JoinAsync("general", "alice");
        await bob.JoinAsync("general", "bob");

        for (int i = 0; i < 25; i++)
        {
            await alice.SendAsync(new { type = "say", room = "general", text = $"flood {i}" });
        }

        await bob.SendAsync(new { type = "say", room = "general", text = "bob speaks" });

        IReadOnlyList<JsonElement> errors = await alice.WaitForCountAsync("error", 5);
        Assert.All(errors, e => Assert.Equal("rate_limited", e.Str("code")));
        JsonElement bobs = await alice.WaitForAsync("message", m => m.Str("text") == "bob speaks");
        Assert.Equal(20, alice.OfType("message").Count(m => m.Str("nick") == "alice")); // the join is counted apart
        Assert.Empty(bob.OfType("error"));
        Assert.Equal("bob", bobs.Str("nick"));
    }

    [Fact]
    public async Task A_dropped_connection_resumes_with_its_token_and_misses_nothing()
    {
        WebSocketTestClient alice = await ConnectAsync();
        WebSocketTestClient bob = await ConnectAsync();
        JsonElement joined = await alice.JoinAsync("general", "alice");
        await bob.JoinAsync("general", "bob");
        await alice.SendAsync(new { type = "say", room = "general", text = "before the drop" });
        long lastSeen = (await alice.WaitForAsync("message")).Long("id");

        alice.Abort();
        for (int i = 0; i < 3; i++)
        {
            await bob.SendAsync(new { type = "say", room = "general", text = $"while away {i}" });
        }

        await bob.WaitForCountAsync("message", 4);
        WebSocketTestClient aliceAgain = await ConnectAsync();
        JsonElement resumed = await aliceAgain.JoinAsync("general", "alice", after: lastSeen, token: joined.Str("token"), historyId: joined.Str("historyId"));

        Assert.True(resumed.GetProperty("resumed").GetBoolean());
        Assert.Equal(["while away 0", "while away 1", "while away 2"], resumed.GetProperty("history").EnumerateArray().Select(m => m.Str("text")));
        Assert.Empty(bob.OfType("leave"));
        Assert.Single(bob.OfType("join"), j => j.Str("nick") == "bob");
    }

    [Fact]
    public async Task A_server_restart_loses_no_message_and_ids_keep_growing()
    {
        WebSocketTestClient alice = await ConnectAsync();
        WebSocketTestClient bob = await ConnectAsync();
        JsonElement aliceJoined = await alice.JoinAsync("general", "alice");
        await bob.JoinAsync("general", "bob");
        await alice.SendAsync(new { type = "say", room = "general", text = "before the restart" });
        long aliceLastSeen = (await alice.WaitForAsync("message")).Long("id");

        await _server.StopAsync();
        await alice.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await bob.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, alice.CloseStatus); // 1001 Going Away
        await _server.StartAgainAsync();

        // Bob is back first and talks; Alice comes back later and asks for everything after what she saw.
        WebSocketTestClient bobAgain = await ConnectAsync();
        await bobAgain.JoinAsync("general", "bob");
        await bobAgain.SendAsync(new { type = "say", room = "general", text = "after the restart" });
        long restartedId = (await bobAgain.WaitForAsync("message")).Long("id");
        WebSocketTestClient aliceAgain = await ConnectAsync();
        JsonElement rejoined = await aliceAgain.JoinAsync("general", "alice", after: aliceLastSeen, token: aliceJoined.Str("token"), historyId: aliceJoined.Str("historyId"));

        Assert.Equal(["after the restart"], rejoined.GetProperty("history").EnumerateArray().Select(m => m.Str("text")));
        Assert.True(restartedId > aliceLastSeen);
        Assert.Equal(aliceJoined.Str("historyId"), (await aliceAgain.WaitForAsync("hello")).Str("historyId"));
    }

    private async Task<WebSocketTestClient> ConnectAsync()
    {
        WebSocketTestClient client = await WebSocketTestClient.ConnectAsync(_server.WebSocketUrl);
        _clients.Add(client);
        return client;
    }

    /// <summary>Sends a request line as written: HttpClient would normalize the dot segments away.</summary>
    private async Task<HttpResponseMessage> RawGetAsync(string target)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port);
        await using var stream = tcp.GetStream();
        byte[] request = System.Text.Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(request);
        using var reader = new StreamReader(stream);
        string response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        string[] statusLine = response.Split("\r\n")[0].Split(' ');
        return new HttpResponseMessage((HttpStatusCode)int.Parse(statusLine[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
