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
    private readonly List<ChatAccount> _accounts = [];

    public async Task InitializeAsync() => _server = await ChatServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (ChatAccount account in _accounts)
        {
            await account.DisposeAsync();
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
        Assert.Contains("<title>Tern.Chat</title>", html, StringComparison.Ordinal);
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
    public async Task Several_people_chat_in_one_order_and_a_direct_message_reaches_only_its_two_people()
    {
        (WebSocketTestClient alice, WebSocketTestClient bob, WebSocketTestClient carol) = (await ConnectAsync("alice"), await ConnectAsync("bob"), await ConnectAsync("carol"));
        long room = await JoinAsync("general", alice, bob);
        JsonElement carolJoined = await carol.JoinRoomAsync("general");

        Assert.Equal(["alice", "bob", "carol"], carolJoined.GetProperty("members").EnumerateArray().Select(m => m.Str("username")));
        await alice.WaitForAsync("member_joined", m => m.GetProperty("member").Str("username") == "carol");

        await Task.WhenAll(new[] { alice, bob, carol }.Select(async client =>
        {
            for (int i = 0; i < 5; i++)
            {
                await client.SendAsync(new { type = "say", conversation = room, text = $"message {i}" });
            }
        }));

        IReadOnlyList<long>[] orders = await Task.WhenAll(new[] { alice, bob, carol }.Select(async client =>
            (IReadOnlyList<long>)(await client.WaitForCountAsync("message", 15)).Select(m => m.Long("id")).ToArray()));
        Assert.Equal(orders[0].Order(), orders[0]);
        Assert.Equal(orders[0], orders[1]);
        Assert.Equal(orders[0], orders[2]);

        long direct = await bob.OpenDirectAsync("alice");
        JsonElement whisper = await bob.SayAsync(direct, "just you");
        Assert.Equal("bob", (await alice.WaitForAsync("message", m => m.Long("conversation") == direct)).Str("author"));
        await bob.SayAsync(room, "after the whisper");
        await carol.WaitForAsync("message", m => m.Str("text") == "after the whisper");
        Assert.DoesNotContain(carol.Received, m => m.GetRawText().Contains("just you", StringComparison.Ordinal));
        Assert.DoesNotContain(carol.Received, m => m.Str("type") == "conversation");
        Assert.Equal(direct, whisper.Long("conversation"));
    }

    [Fact]
    public async Task Bad_input_gets_an_error_and_the_connection_carries_on()
    {
        (WebSocketTestClient alice, WebSocketTestClient bob) = (await ConnectAsync("alice"), await ConnectAsync("bob"));
        long room = await JoinAsync("general", alice, bob);

        await alice.SendRawAsync("{oops");
        await alice.SendRawAsync("""{"type":"shout"}""");
        await alice.SendRawAsync($$"""{"type":"say","conversation":{{room}}}""");
        await alice.SendAsync(new { type = "say", conversation = room, text = new string('a', 4001) });
        await alice.SendAsync(new { type = "say", conversation = room, text = "\u202Egnp.exe" });
        await alice.SendAsync(new { type = "say", conversation = room, text = "\u200B\u200B" });
        await alice.SendAsync(new { type = "say", conversation = room, text = string.Join('\n', Enumerable.Repeat("x", 300)) });
        await alice.SendAsync(new { type = "say", conversation = room, text = "Z" + new string('\u0301', 40) });
        await alice.SendAsync(new { type = "say", conversation = room, text = "fine" });

        await bob.WaitForAsync("message", m => m.Str("text") == "fine");
        Assert.Equal(["bad_json", "unknown_type", "missing_field", "text_too_long", "bad_text", "bad_text", "too_many_lines", "bad_text"],
            (await alice.WaitForCountAsync("error", 8)).Select(e => e.Str("code")));
        Assert.Empty(bob.OfType("error"));
        Assert.Single(bob.OfType("message"));
        Assert.Equal(WebSocketState.Open, alice.State);
    }

    [Fact]
    public async Task A_frame_over_the_size_limit_is_closed_with_1009_and_the_others_carry_on()
    {
        (WebSocketTestClient alice, WebSocketTestClient bob) = (await ConnectAsync("alice"), await ConnectAsync("bob"));
        long room = await JoinAsync("general", alice, bob);

        await alice.SendRawAsync(JsonSerializer.Serialize(new { type = "say", conversation = room, text = new string('a', ChatApp.MaxMessageSize) }));
        await alice.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await bob.SendAsync(new { type = "say", conversation = room, text = "still working" });

        Assert.Equal((WebSocketCloseStatus)1009, alice.CloseStatus);
        Assert.Equal("still working", (await bob.WaitForAsync("message")).Str("text"));
    }

    [Fact]
    public async Task Flooding_is_limited_per_account_even_from_two_tabs()
    {
        ChatAccount aliceAccount = await SignUpAsync("alice");
        (WebSocketTestClient tab1, WebSocketTestClient tab2, WebSocketTestClient bob) = (await aliceAccount.ConnectAsync(), await aliceAccount.ConnectAsync(), await ConnectAsync("bob"));
        long room = await JoinAsync("general", tab1, bob);

        for (int i = 0; i < 15; i++)
        {
            await tab1.SendAsync(new { type = "say", conversation = room, text = $"flood a{i}", @ref = $"a{i}" });
            await tab2.SendAsync(new { type = "say", conversation = room, text = $"flood b{i}", @ref = $"b{i}" });
        }

        var answers = new List<JsonElement>();
        for (int i = 0; i < 15; i++)
        {
            answers.Add(await tab1.WaitForAnswerAsync($"a{i}"));
            answers.Add(await tab2.WaitForAnswerAsync($"b{i}"));
        }

        JsonElement bobs = await bob.SayAsync(room, "bob speaks");

        Assert.Equal(19, answers.Count(a => a.Str("type") == "message")); // 20 per window per account; the join counted
        Assert.All(answers.Where(a => a.Str("type") == "error"), e => Assert.Equal("rate_limited", e.Str("code")));
        Assert.Equal("message", bobs.Str("type"));
        Assert.Empty(bob.OfType("error"));
    }

    [Fact]
    public async Task A_dropped_connection_resumes_after_its_last_id_and_misses_nothing()
    {
        ChatAccount aliceAccount = await SignUpAsync("alice");
        (WebSocketTestClient alice, WebSocketTestClient bob) = (await aliceAccount.ConnectAsync(), await ConnectAsync("bob"));
        long room = await JoinAsync("general", alice, bob);
        long lastSeen = (await alice.SayAsync(room, "before the drop")).Long("id");

        alice.Abort();
        for (int i = 0; i < 3; i++)
        {
            await bob.SayAsync(room, $"while away {i}");
        }

        WebSocketTestClient aliceAgain = await aliceAccount.ConnectAsync();
        await aliceAgain.SendAsync(new { type = "history", conversation = room, after = lastSeen, @ref = "resume" });
        JsonElement history = await aliceAgain.WaitForAnswerAsync("resume");

        Assert.Equal(["while away 0", "while away 1", "while away 2"], history.GetProperty("messages").EnumerateArray().Select(m => m.Str("text")));
        Assert.False(history.GetProperty("more").GetBoolean());
        Assert.Equal(3, aliceAgain.OfType("hello")[0].GetProperty("conversations").EnumerateArray().Single().GetProperty("unread").GetInt32());
        Assert.DoesNotContain(bob.Received, m => m.Str("type") is "member_left" or "member_joined");
    }

    [Fact]
    public async Task A_server_restart_loses_no_message_and_ids_keep_growing()
    {
        ChatAccount aliceAccount = await SignUpAsync("alice");
        ChatAccount bobAccount = await SignUpAsync("bob");
        (WebSocketTestClient alice, WebSocketTestClient bob) = (await aliceAccount.ConnectAsync(), await bobAccount.ConnectAsync());
        long room = await JoinAsync("general", alice, bob);
        string historyId = alice.OfType("hello")[0].Str("historyId");
        long aliceLastSeen = (await alice.SayAsync(room, "before the restart")).Long("id");

        await _server.StopAsync();
        await alice.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        await bob.Closed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, alice.CloseStatus); // 1001 Going Away
        await _server.StartAgainAsync();

        // Bob is back first and talks; Alice comes back later and asks for everything after what she saw.
        WebSocketTestClient bobAgain = await bobAccount.ConnectAsync();
        long restartedId = (await bobAgain.SayAsync(room, "after the restart")).Long("id");
        WebSocketTestClient aliceAgain = await aliceAccount.ConnectAsync();
        await aliceAgain.SendAsync(new { type = "history", conversation = room, after = aliceLastSeen, @ref = "resume" });
        JsonElement history = await aliceAgain.WaitForAnswerAsync("resume");

        Assert.Equal(["after the restart"], history.GetProperty("messages").EnumerateArray().Select(m => m.Str("text")));
        Assert.True(restartedId > aliceLastSeen);
        Assert.Equal(historyId, aliceAgain.OfType("hello")[0].Str("historyId"));
    }

    private async Task<ChatAccount> SignUpAsync(string username)
    {
        ChatAccount account = await ChatAccount.SignUpAsync(_server, username);
        _accounts.Add(account);
        return account;
    }

    private async Task<WebSocketTestClient> ConnectAsync(string username) => await (await SignUpAsync(username)).ConnectAsync();

    /// <summary>Every client joins the room; returns its conversation id.</summary>
    private static async Task<long> JoinAsync(string room, params WebSocketTestClient[] clients)
    {
        long id = 0;
        foreach (WebSocketTestClient client in clients)
        {
            id = (await client.JoinRoomAsync(room)).GetProperty("conversation").Long("id");
        }

        return id;
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
