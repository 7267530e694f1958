using System.Net;
using System.Net.WebSockets;
using Tern.TestSupport;

namespace Tern.Tests.TestSupport;

/// <summary>A Tern server on 127.0.0.1 and a free port, for one test.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(WebSocketServer server, bool secure)
    {
        Server = server;
        IsSecure = secure;
    }

    public WebSocketServer Server { get; }

    public int Port => Server.LocalEndPoints[0].Port;

    /// <summary>Whether the server speaks TLS (its options had <see cref="WebSocketServerOptions.Tls"/>).</summary>
    public bool IsSecure { get; }

    /// <summary>ws or wss, as the server speaks.</summary>
    public string Scheme => IsSecure ? "wss" : "ws";

    public Uri Uri(string path = "/") => new($"{Scheme}://127.0.0.1:{Port}{path}");

    /// <summary>Starts a server; <paramref name="configure"/> maps routes (an echo at every path when null).</summary>
    public static async Task<TestServer> StartAsync(Action<WebSocketServer>? configure = null, Action<WebSocketServerOptions>? options = null)
    {
        var serverOptions = new WebSocketServerOptions();
        serverOptions.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0));
        options?.Invoke(serverOptions);
        var server = new WebSocketServer(serverOptions);
        (configure ?? MapEcho)(server);
        await server.StartAsync();
        return new TestServer(server, serverOptions.Tls is not null);
    }

    public static void MapEcho(WebSocketServer server) =>
        server.MapFallback(async (connection, ct) =>
        {
            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
            {
                await connection.SendAsync(message, ct);
            }
        });

    public async Task<ClientWebSocket> ConnectClientAsync(string path = "/", Action<ClientWebSocketOptions>? configure = null)
    {
        var client = new ClientWebSocket();
        if (IsSecure)
        {
            client.Options.RemoteCertificateValidationCallback = TestCertificates.Trust;
        }

        configure?.Invoke(client.Options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.ConnectAsync(Uri(path), timeout.Token);
        return client;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling, up to <paramref name="seconds"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, double seconds = 10, string? because = null)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {seconds} s waiting: {because ?? "condition"}");
            }

            await Task.Delay(20);
        }
    }

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}

internal static class ClientWebSocketExtensions
{
    /// <summary>Receives one whole message (all fragments).</summary>
    public static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(this ClientWebSocket client, int timeoutSeconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        var data = new MemoryStream();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await client.ReceiveAsync(buffer, timeout.Token);
            data.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, data.ToArray());
            }
        }
    }
}
