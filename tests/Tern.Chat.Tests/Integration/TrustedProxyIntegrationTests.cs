using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Integration;

/// <summary>
/// The real app with clients that say which address they forward for, as nginx does on 127.0.0.1: from a trusted proxy
/// each forwarded client has limits of its own; otherwise the header is ignored and they share the peer's.
/// </summary>
public sealed class TrustedProxyIntegrationTests
{
    public static TheoryData<string, bool> Proxies => new()
    {
        { "127.0.0.1", true },
        { "::1,127.0.0.0/8", true },
        { "", false },           // no proxy trusted: the default
        { "10.0.0.0/8", false }, // 127.0.0.1 is not one of the trusted proxies
    };

    [Theory]
    [MemberData(nameof(Proxies))]
    public async Task Sign_in_attempts_are_throttled_per_forwarded_client_only_from_a_trusted_proxy(string trustedProxies, bool separate)
    {
        await using ChatServer server = await ChatServer.StartAsync(configureApp: o =>
        {
            o.TrustedProxies = trustedProxies;
            o.Accounts.AddressAttemptLimit = 2;
            o.Accounts.AddressAttemptWindow = TimeSpan.FromHours(1);
        });
        using var http = new HttpClient { BaseAddress = server.Url, Timeout = TimeSpan.FromSeconds(20) };

        Assert.Equal(HttpStatusCode.Unauthorized, await LogInAsync(http, "203.0.113.1"));
        Assert.Equal(HttpStatusCode.Unauthorized, await LogInAsync(http, "203.0.113.1"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await LogInAsync(http, "203.0.113.1"));

        // Another client behind the same proxy, and one that puts the first one's address on the left (a forgery the
        // proxy appends to): neither is held back by the first client's attempts.
        Assert.Equal(separate ? HttpStatusCode.Unauthorized : HttpStatusCode.TooManyRequests, await LogInAsync(http, "203.0.113.2"));
        Assert.Equal(separate ? HttpStatusCode.Unauthorized : HttpStatusCode.TooManyRequests, await LogInAsync(http, "203.0.113.1, 203.0.113.3"));
    }

    [Theory]
    [MemberData(nameof(Proxies))]
    public async Task The_hubs_per_address_message_limit_counts_the_client_the_upgrade_request_forwards_for(string trustedProxies, bool separate)
    {
        await using ChatServer server = await ChatServer.StartAsync(
            hub =>
            {
                hub.AddressRateLimitCount = 5; // two joins and three messages
                hub.RateLimitCount = 100;
                hub.RateLimitWindow = TimeSpan.FromMinutes(1);
            },
            o => o.TrustedProxies = trustedProxies);
        await using ChatAccount alice = await ChatAccount.SignUpAsync(server, "alice");
        await using ChatAccount bob = await ChatAccount.SignUpAsync(server, "bob");
        await using WebSocketTestClient aliceSocket = await ConnectAsync(server, alice, "203.0.113.1");
        await using WebSocketTestClient bobSocket = await ConnectAsync(server, bob, "203.0.113.2:41000");
        long room = (await aliceSocket.JoinRoomAsync("lobby")).GetProperty("conversation").GetProperty("id").GetInt64();
        await bobSocket.JoinRoomAsync("lobby");

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("message", await SayAsync(aliceSocket, room, $"a{i}"));
        }

        string[] bobs = [await SayAsync(bobSocket, room, "b0"), await SayAsync(bobSocket, room, "b1"), await SayAsync(bobSocket, room, "b2")];

        Assert.Equal(separate ? ["message", "message", "message"] : ["rate_limited", "rate_limited", "rate_limited"], bobs);
        Assert.Contains(server.Log.Lines, line => line.Contains($"(client {(separate ? "203.0.113.2" : "127.0.0.1")}) for bob", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Through_nginx_each_client_address_has_its_own_sign_in_allowance_and_cannot_forge_another()
    {
        await using ChatServer server = await ChatServer.StartAsync(configureApp: o =>
        {
            o.TrustedProxies = "127.0.0.1"; // nginx's address towards the node; the clients below come from others
            o.Accounts.AddressAttemptLimit = 2;
            o.Accounts.AddressAttemptWindow = TimeSpan.FromHours(1);
        });
        await using NginxProxy nginx = await NginxProxy.StartAsync([server.Port]);
        using HttpClient first = ClientFrom(IPAddress.Parse("127.0.0.2"), nginx.Url);
        using HttpClient second = ClientFrom(IPAddress.Parse("127.0.0.3"), nginx.Url);

        Assert.Equal(HttpStatusCode.Unauthorized, await LogInAsync(first));
        Assert.Equal(HttpStatusCode.Unauthorized, await LogInAsync(first));
        Assert.Equal(HttpStatusCode.TooManyRequests, await LogInAsync(first));
        // nginx appends the real address to a forged header: the node reads that one, not the forgery.
        Assert.Equal(HttpStatusCode.TooManyRequests, await LogInAsync(first, "203.0.113.9"));

        Assert.Equal(HttpStatusCode.Unauthorized, await LogInAsync(second));
    }

    /// <summary>An HTTP client whose connections come from <paramref name="source"/> (any 127.x address is this machine).</summary>
    private static HttpClient ClientFrom(IPAddress source, Uri site) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = site,
        Timeout = TimeSpan.FromSeconds(20),
    };

    /// <summary>A sign-in that fails (401) unless throttled (429), from the client's page.</summary>
    private static async Task<HttpStatusCode> LogInAsync(HttpClient http, string? forwardedFor = null)
    {
        // A string body, as the page sends it: Tern reads Content-Length bodies only.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/login")
        {
            Content = new StringContent("""{"username":"nobody","password":"not-the-password"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Origin", http.BaseAddress!.GetLeftPart(UriPartial.Authority));
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        using HttpResponseMessage response = await http.SendAsync(request);
        return response.StatusCode;
    }

    private static Task<WebSocketTestClient> ConnectAsync(ChatServer server, ChatAccount account, string forwardedFor) =>
        WebSocketTestClient.ConnectAsync(server.WebSocketUrl, options =>
        {
            options.Cookies = account.Cookies;
            options.SetRequestHeader("Origin", server.Url.GetLeftPart(UriPartial.Authority));
            options.SetRequestHeader("X-Forwarded-For", forwardedFor);
        });

    /// <summary>Says something and gives the answer's type, or the error's code.</summary>
    private static async Task<string> SayAsync(WebSocketTestClient socket, long room, string reference)
    {
        await socket.SendAsync(new { type = "say", conversation = room, text = reference, @ref = reference });
        JsonElement answer = await socket.WaitForAnswerAsync(reference);
        return (answer.Str("type") == "error" ? answer.Str("code") : answer.Str("type")) ?? "nothing";
    }
}
