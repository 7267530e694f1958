using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Tern.Hosting.Tests;

/// <summary>A real Generic Host running Tern on a loopback port, driven by <see cref="ClientWebSocket"/>.</summary>
public sealed class TernHostedServiceTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Echoes_through_a_server_configured_from_appsettings_json()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ] } }""");
        using ClientWebSocket client = await running.ConnectAsync("/echo");

        await client.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, running.Timeout);
        (WebSocketReceiveResult result, string text) = await ReceiveTextAsync(client, running.Timeout);

        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        Assert.Equal("hello", text);
    }

    [Fact]
    public async Task Stopping_the_host_sends_1001_and_returns_within_the_shutdown_timeout()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ], "ShutdownTimeout": "00:00:01" } }""");
        using ClientWebSocket client = await running.ConnectAsync("/echo");
        Task<WebSocketReceiveResult> closing = client.ReceiveAsync(new byte[64], running.Timeout);

        var stopwatch = Stopwatch.StartNew();
        await running.Host.StopAsync(running.Timeout);
        stopwatch.Stop();

        WebSocketReceiveResult result = await closing.WaitAsync(Patience);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, result.CloseStatus);
        // The client answers the close at once, so the server need not wait out its 1 s ShutdownTimeout; 5 s is room for a loaded machine.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"StopAsync took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Stopping_the_host_is_bounded_by_the_shutdown_timeout_when_a_client_never_answers_the_close()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ], "ShutdownTimeout": "00:00:01" } }""");
        // A client that connects and then never reads: the 1001 close is never answered.
        using ClientWebSocket client = await running.ConnectAsync("/echo");

        var stopwatch = Stopwatch.StartNew();
        await running.Host.StopAsync(running.Timeout);
        stopwatch.Stop();

        // ShutdownTimeout bounds the close handshake and, again, the handlers: at most about 2 s, plus room for a loaded machine.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"StopAsync took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Configured_MaxMessageSize_reaches_the_server()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ], "MaxMessageSize": 1024 } }""");
        using ClientWebSocket client = await running.ConnectAsync("/echo");

        await client.SendAsync(new byte[512], WebSocketMessageType.Binary, true, running.Timeout);
        WebSocketReceiveResult small = await client.ReceiveAsync(new byte[4096], running.Timeout);
        Assert.Equal(512, small.Count);

        await client.SendAsync(new byte[2048], WebSocketMessageType.Binary, true, running.Timeout);
        WebSocketReceiveResult refused = await client.ReceiveAsync(new byte[4096], running.Timeout);
        Assert.Equal(WebSocketMessageType.Close, refused.MessageType);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, refused.CloseStatus);
    }

    [Fact]
    public async Task List_and_scalar_options_bind_from_configuration()
    {
        await using RunningHost running = await RunningHost.StartAsync("""
            { "Tern": {
                "EndPoints": [ "127.0.0.1:0" ],
                "AllowedOrigins": [ "https://example.com" ],
                "Subprotocols": [ "chat.v2", "chat.v1" ],
                "HandshakeTimeout": "00:00:03",
                "MaxSendQueueSize": 4096 } }
            """);
        WebSocketServerOptions options = running.Host.Services.GetRequiredService<IOptions<WebSocketServerOptions>>().Value;

        Assert.Equal(["https://example.com"], options.AllowedOrigins);
        Assert.Equal(["chat.v2", "chat.v1"], options.Subprotocols);
        Assert.Equal(TimeSpan.FromSeconds(3), options.HandshakeTimeout);
        Assert.Equal(4096, options.MaxSendQueueSize);

        // The subprotocol list reached the running server: it picks its first choice the client offers.
        using var client = new ClientWebSocket();
        client.Options.AddSubProtocol("chat.v1");
        client.Options.AddSubProtocol("chat.v2");
        await client.ConnectAsync(new Uri($"ws://{running.EndPoint}/echo"), running.Timeout);
        Assert.Equal("chat.v2", client.SubProtocol);
    }

    [Fact]
    public async Task The_server_meter_comes_from_the_host_meter_factory()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ] } }""");
        IMeterFactory factory = running.Host.Services.GetRequiredService<IMeterFactory>();
        Assert.Same(factory, running.Host.Services.GetRequiredService<IOptions<WebSocketServerOptions>>().Value.MeterFactory);

        // The host's factory marks its meters with itself as the scope: that tells this host's "Tern" meter from those
        // of servers other tests run in this process at the same time.
        long opened = 0;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Tern" && ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == "tern.connections.opened")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref opened, value));
        listener.Start();

        using ClientWebSocket client = await running.ConnectAsync("/echo");
        await WaitUntilAsync(() => Interlocked.Read(ref opened) == 1);
    }

    [Fact]
    public async Task The_registered_server_is_the_running_one_and_can_broadcast()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ] } }""");
        using ClientWebSocket client = await running.ConnectAsync("/echo");
        WebSocketServer server = running.Host.Services.GetRequiredService<WebSocketServer>();
        await WaitUntilAsync(() => server.ConnectionCount == 1);

        await server.BroadcastTextAsync("to everyone");

        (_, string text) = await ReceiveTextAsync(client, running.Timeout);
        Assert.Equal("to everyone", text);
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("ws://127.0.0.1:9000")]
    public async Task A_bad_endpoint_fails_the_start_naming_the_key_and_value(string endPoint)
    {
        HostApplicationBuilder builder = RunningHost.CreateBuilder($$"""{ "Tern": { "EndPoints": [ "127.0.0.1:0", "{{endPoint}}" ] } }""");
        using IHost host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("Tern:EndPoints:1", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{endPoint}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_misspelt_option_fails_the_start_naming_it()
    {
        HostApplicationBuilder builder = RunningHost.CreateBuilder("""{ "Tern": { "EndPoints": [ "127.0.0.1:0" ], "MaxMesageSize": 10 } }""");
        using IHost host = builder.Build();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Contains("MaxMesageSize", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:9000", "127.0.0.1", 9000)]
    [InlineData("[::1]:9000", "::1", 9000)]
    [InlineData("[::]:0", "::", 0)]
    [InlineData("*:9000", "::", 9000)]
    [InlineData("localhost:8081", "127.0.0.1", 8081)]
    [InlineData(" 0.0.0.0:80 ", "0.0.0.0", 80)]
    public void Endpoint_strings_parse(string text, string address, int port)
    {
        IPEndPoint endPoint = TernServerConfiguration.ParseEndPoint("Tern:EndPoints:0", text);

        Assert.Equal(IPAddress.Parse(address), endPoint.Address);
        Assert.Equal(port, endPoint.Port);
    }

    [Fact]
    public async Task Several_endpoints_in_one_string_bind_as_an_environment_variable_would_give_them()
    {
        await using RunningHost running = await RunningHost.StartAsync("""{ "Tern": { "EndPoints": "127.0.0.1:0; [::1]:0" } }""");
        WebSocketServer server = running.Host.Services.GetRequiredService<WebSocketServer>();

        Assert.Equal(2, server.LocalEndPoints.Count);
        Assert.Equal(IPAddress.IPv6Loopback, server.LocalEndPoints[1].Address);
    }

    private static async Task<(WebSocketReceiveResult Result, string Text)> ReceiveTextAsync(ClientWebSocket client, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        WebSocketReceiveResult result = await client.ReceiveAsync(buffer, cancellationToken);
        return (result, Encoding.UTF8.GetString(buffer, 0, result.Count));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var stopwatch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(stopwatch.Elapsed < Patience, "timed out waiting for the server");
            await Task.Delay(10);
        }
    }

    /// <summary>A started host with an echo route; disposing stops and disposes it even when the test failed.</summary>
    private sealed class RunningHost : IAsyncDisposable
    {
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

        private RunningHost(IHost host)
        {
            Host = host;
        }

        public IHost Host { get; }

        public CancellationToken Timeout => _timeout.Token;

        public IPEndPoint EndPoint => Host.Services.GetRequiredService<WebSocketServer>().LocalEndPoints[0];

        public static HostApplicationBuilder CreateBuilder(string json)
        {
            // No defaults: the test's JSON is the whole configuration, whatever the machine's environment holds.
            HostApplicationBuilder builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
            builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
            builder.Services.AddTernServer(builder.Configuration.GetSection("Tern"))
                .Map("/echo", static async (connection, ct) =>
                {
                    await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
                    {
                        await connection.SendAsync(message, ct);
                    }
                });
            return builder;
        }

        public static async Task<RunningHost> StartAsync(string json)
        {
            IHost host = CreateBuilder(json).Build();
            try
            {
                await host.StartAsync();
                return new RunningHost(host);
            }
            catch
            {
                host.Dispose();
                throw;
            }
        }

        public async Task<ClientWebSocket> ConnectAsync(string path)
        {
            var client = new ClientWebSocket();
            try
            {
                await client.ConnectAsync(new Uri($"ws://{EndPoint}{path}"), Timeout);
                return client;
            }
            catch
            {
                client.Dispose();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Host.StopAsync(CancellationToken.None);
            }
            finally
            {
                if (Host is IAsyncDisposable asyncDisposable)
                {
                    await asyncDisposable.DisposeAsync();
                }
                else
                {
                    Host.Dispose();
                }

                _timeout.Dispose();
            }
        }
    }
}
