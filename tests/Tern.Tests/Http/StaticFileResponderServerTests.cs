using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Tern.Http;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Http;

/// <summary>StaticFileResponder on the server's HttpHandler hook, over real loopback sockets.</summary>
public sealed class StaticFileResponderServerTests : IAsyncLifetime
{
    private const string Secret = "outside the site";
    private readonly string _parent = Path.Combine(Path.GetTempPath(), "tern-static-server-" + Guid.NewGuid().ToString("N"));
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        string root = Path.Combine(_parent, "site");
        Directory.CreateDirectory(root);
        File.WriteAllText(Path.Combine(_parent, "secret.txt"), Secret);
        File.WriteAllText(Path.Combine(root, "index.html"), "<!doctype html><title>home</title>");
        File.WriteAllText(Path.Combine(root, "app.js"), "console.log('hi');");
        StaticFileResponder files = StaticFileResponder.FromDirectory(root);
        _server = await TestServer.StartAsync(TestServer.MapEcho, options => options.HttpHandler = files.HandleAsync);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_parent, recursive: true);
    }

    [Fact]
    public async Task Serves_files_and_answers_validators_and_methods()
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_server.Port}/"), Timeout = TimeSpan.FromSeconds(10) };

        HttpResponseMessage index = await http.GetAsync("/");
        var revalidate = new HttpRequestMessage(HttpMethod.Get, "/");
        revalidate.Headers.IfNoneMatch.Add(index.Headers.ETag!);
        HttpResponseMessage notModified = await http.SendAsync(revalidate);
        HttpResponseMessage head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/app.js"));
        HttpResponseMessage delete = await http.DeleteAsync("/app.js");
        HttpResponseMessage missing = await http.GetAsync("/missing.css");

        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("<!doctype html><title>home</title>", await index.Content.ReadAsStringAsync());
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.NotModified, notModified.StatusCode);
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(18, head.Content.Headers.ContentLength);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.MethodNotAllowed, delete.StatusCode);
        Assert.Equal(["GET", "HEAD"], delete.Content.Headers.Allow.Order());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [InlineData("/../secret.txt")]
    [InlineData("/%2e%2e/secret.txt")]
    [InlineData("/..%2fsecret.txt")]
    [InlineData("/..%5csecret.txt")]
    [InlineData("/..\\secret.txt")]
    public async Task Traversal_over_the_wire_gets_400(string target)
    {
        // A raw request line: HttpClient would remove the dot segments before sending.
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port);
        await using NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 400 ", response, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WebSocket_upgrades_still_reach_their_handler()
    {
        using ClientWebSocket client = await _server.ConnectClientAsync("/echo");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);

        (WebSocketMessageType type, byte[] data) = await client.ReceiveMessageAsync();

        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("ping", Encoding.UTF8.GetString(data));
    }
}
