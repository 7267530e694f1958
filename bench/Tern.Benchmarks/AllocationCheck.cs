using System.Diagnostics.Metrics;
using System.Net;
using Tern;

namespace Tern.Benchmarks;

/// <summary>
/// Counts the bytes allocated per message in the steady state of echo and broadcast, on every thread of the process
/// (GC.GetTotalAllocatedBytes with precise counting), over many messages so that one-time costs vanish.
/// BenchmarkDotNet's MemoryDiagnoser also counts its own harness per invocation; this check counts only Tern.
/// Run: dotnet run -c Release --project bench/Tern.Benchmarks -- alloc [--metrics]; with --metrics, a listener takes
/// every measurement of the Tern meter, so recording them is checked to allocate nothing either.
/// </summary>
internal static class AllocationCheck
{
    private const int Warmup = 20_000;
    private const int Count = 100_000;

    public static async Task<int> RunAsync(bool withMetrics)
    {
        using var listener = new MeterListener();
        if (withMetrics)
        {
            listener.InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == "Tern")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
            listener.SetMeasurementEventCallback<int>(static (_, _, _, _) => { });
            listener.Start();
        }

        var options = new WebSocketServerOptions { KeepAliveInterval = TimeSpan.Zero };
        options.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0));
        await using var server = new WebSocketServer(options);
        server.Map("/broadcast", async (c, ct) =>
        {
            await foreach (WebSocketMessage _ in c.ReadMessagesAsync(ct))
            {
            }
        });
        server.MapFallback(async (c, ct) =>
        {
            await foreach (WebSocketMessage m in c.ReadMessagesAsync(ct))
            {
                await c.SendAsync(m, ct);
            }
        });
        await server.StartAsync();
        int port = server.LocalEndPoints[0].Port;
        byte[] payload = new byte[32];

        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/echo"));
        await using IAsyncEnumerator<WebSocketMessage> replies = client.ReadMessagesAsync().GetAsyncEnumerator();
        double echo = await MeasureEchoAsync(client, replies, payload);

        WebSocketConnection[] subscribers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/broadcast"))));
        IAsyncEnumerator<WebSocketMessage>[] reads = subscribers.Select(s => s.ReadMessagesAsync().GetAsyncEnumerator()).ToArray();
        while (server.ConnectionCount < 11)
        {
            await Task.Delay(10);
        }

        WebSocketConnection[] targets = server.Connections.Where(c => c.Path == "/broadcast").ToArray();
        double broadcast = await MeasureBroadcastAsync(server, targets, reads, payload);

        Console.WriteLine($"echo round trip, 32 B (client and server): {echo:F2} bytes allocated per message");
        Console.WriteLine($"broadcast 32 B to 10 (server and 10 clients): {broadcast:F2} bytes allocated per broadcast");
        foreach (WebSocketConnection s in subscribers)
        {
            await s.DisposeAsync();
        }

        return echo < 1 && broadcast < 1 ? 0 : 1;
    }

    // The loops are written out (no delegate per operation) so that only Tern's allocations are counted.
    private static async Task<double> MeasureEchoAsync(WebSocketConnection client, IAsyncEnumerator<WebSocketMessage> replies, byte[] payload)
    {
        long before = 0;
        for (int i = -Warmup; i < Count; i++)
        {
            if (i == 0)
            {
                before = GC.GetTotalAllocatedBytes(precise: true);
            }

            await client.SendBinaryAsync(payload);
            await replies.MoveNextAsync();
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Count;
    }

    private static async Task<double> MeasureBroadcastAsync(WebSocketServer server, WebSocketConnection[] targets, IAsyncEnumerator<WebSocketMessage>[] reads, byte[] payload)
    {
        long before = 0;
        for (int i = -Warmup; i < Count; i++)
        {
            if (i == 0)
            {
                before = GC.GetTotalAllocatedBytes(precise: true);
            }

            await server.BroadcastBinaryAsync(payload, targets);
            foreach (IAsyncEnumerator<WebSocketMessage> read in reads)
            {
                await read.MoveNextAsync();
            }
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)Count;
    }
}
