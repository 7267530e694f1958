using System.Net;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Tern;

namespace Tern.Benchmarks;

/// <summary>
/// Steady-state echo and broadcast over real loopback sockets, to show what one message costs end to end and that the
/// steady state allocates nothing per message (MemoryDiagnoser counts every thread's allocations).
/// </summary>
[MemoryDiagnoser]
public class LoopbackBenchmarks
{
    private WebSocketServer _server = null!;
    private WebSocketConnection _echoClient = null!;
    private IAsyncEnumerator<WebSocketMessage> _echoReplies = null!;
    private WebSocketConnection[] _subscribers = [];
    private IAsyncEnumerator<WebSocketMessage>[] _subscriberReads = [];
    private WebSocketConnection[] _broadcastTargets = [];
    private readonly byte[] _payload = new byte[32];

    [GlobalSetup]
    public async Task Setup()
    {
        var options = new WebSocketServerOptions { KeepAliveInterval = TimeSpan.Zero };
        options.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0));
        _server = new WebSocketServer(options);
        _server.Map("/broadcast", async (c, ct) =>
        {
            await foreach (WebSocketMessage _ in c.ReadMessagesAsync(ct))
            {
            }
        });
        _server.MapFallback(async (c, ct) =>
        {
            await foreach (WebSocketMessage m in c.ReadMessagesAsync(ct))
            {
                await c.SendAsync(m, ct);
            }
        });
        await _server.StartAsync();
        var uri = new Uri($"ws://127.0.0.1:{_server.LocalEndPoints[0].Port}/echo");
        _echoClient = await WebSocketClient.ConnectAsync(uri);
        _echoReplies = _echoClient.ReadMessagesAsync().GetAsyncEnumerator();
        _subscribers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{_server.LocalEndPoints[0].Port}/broadcast"))));
        _subscriberReads = _subscribers.Select(s => s.ReadMessagesAsync().GetAsyncEnumerator()).ToArray();
        while (_server.ConnectionCount < 11)
        {
            await Task.Delay(10);
        }

        _broadcastTargets = _server.Connections.Where(c => c.Path == "/broadcast").ToArray();
    }

    // Pooled builders, so that the benchmark methods' own async state doesn't show up as allocations per message.
    [Benchmark(Description = "echo round trip, 32 B binary (client + server)")]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> Echo()
    {
        await _echoClient.SendBinaryAsync(_payload);
        await _echoReplies.MoveNextAsync();
        return _echoReplies.Current.Data.Length;
    }

    [Benchmark(Description = "broadcast 32 B to 10 connections (all delivered)")]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> Broadcast()
    {
        await _server.BroadcastBinaryAsync(_payload, _broadcastTargets);
        int total = 0;
        foreach (IAsyncEnumerator<WebSocketMessage> read in _subscriberReads)
        {
            await read.MoveNextAsync();
            total += read.Current.Data.Length;
        }

        return total;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _echoClient.DisposeAsync();
        foreach (WebSocketConnection s in _subscribers)
        {
            await s.DisposeAsync();
        }

        await _server.DisposeAsync();
    }
}
