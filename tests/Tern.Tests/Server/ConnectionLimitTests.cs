using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>
/// MaxConnections and MaxConnectionsPerAddress: over a limit a client gets 503 with Retry-After (or is closed if it
/// sends nothing), refusals stay bounded and quiet, and every way a connection ends gives its slot back.
/// </summary>
public sealed class ConnectionLimitTests
{
    private static readonly IPAddress OtherLoopback = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task Over_MaxConnections_a_client_gets_503_with_Retry_After_and_a_freed_slot_is_reused()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxConnections = 3);
        ConnectionLimiter limiter = server.Server.Limiter!;
        await using (var holders = new PeerList())
        {
            Assert.Equal(3, server.Server.MaxConnections);
            for (int i = 0; i < 3; i++)
            {
                holders.Add(await RawPeer.ConnectWebSocketAsync(server.Port));
            }

            RawHttpResponse refused = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest());
            Assert.Equal(503, refused.StatusCode);
            Assert.Equal(ConnectionLimiter.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), refused.Headers["retry-after"]);
            Assert.Contains("connection limit", refused.Body, StringComparison.Ordinal);
            Assert.Equal(1, limiter.RefusedMaxConnections);
            Assert.Equal(0, limiter.RefusedMaxConnectionsPerAddress);

            // The holders were not disturbed by the refusal.
            await AssertEchoesAsync(holders[0]);

            await holders[2].DisposeAsync();
            holders.RemoveAt(2);
            await TestServer.WaitUntilAsync(() => limiter.Held == 2, because: "the closed holder's slot is given back");
            holders.Add(await RawPeer.ConnectWebSocketAsync(server.Port));
            await AssertEchoesAsync(holders[2]);
        }

        await TestServer.WaitUntilAsync(() => limiter.Held == 0, because: "every slot is given back once the holders leave");
    }

    [Fact]
    public async Task A_silent_client_over_the_limit_is_closed_within_a_second_not_the_handshake_timeout()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxConnections = 1);
        await using RawPeer holder = await RawPeer.ConnectWebSocketAsync(server.Port);
        await using RawPeer silent = await RawPeer.ConnectAsync(server.Port);
        var elapsed = Stopwatch.StartNew();
        Assert.True(await silent.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)), "the silent client over the limit was not closed within 5 s");
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(3), $"closed after {elapsed.ElapsedMilliseconds} ms; the refusal waits at most 1 s for a request head (the handshake timeout is 10 s)");
        Assert.Equal(1, server.Server.Limiter!.RefusedMaxConnections);
        await TestServer.WaitUntilAsync(() => server.Server.Limiter!.PendingRefusals == 0, because: "the refusal ends");
    }

    [Fact]
    public async Task Refusals_in_flight_are_bounded_and_the_excess_is_closed_without_waiting()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxConnections = 1);
        ConnectionLimiter limiter = server.Server.Limiter!;
        await using RawPeer holder = await RawPeer.ConnectWebSocketAsync(server.Port);
        int excess = 10;
        await using var silent = new PeerList();
        for (int i = 0; i < limiter.MaxPendingRefusals + excess; i++)
        {
            silent.Add(await RawPeer.ConnectAsync(server.Port));
        }

        // The first MaxPendingRefusals wait up to 1 s for a request head; the rest are closed as soon as accepted.
        bool[] closedEarly = await Task.WhenAll(silent.Select(p => p.WaitForServerCloseAsync(TimeSpan.FromMilliseconds(500))));
        Assert.True(closedEarly.Count(c => c) >= excess, $"{closedEarly.Count(c => c)} of {silent.Count} silent clients were closed within 500 ms; at least {excess} are over the {limiter.MaxPendingRefusals} refusals allowed in flight");
        bool[] closed = await Task.WhenAll(silent.Select(p => p.WaitForServerCloseAsync(TimeSpan.FromSeconds(5))));
        Assert.All(closed, Assert.True);
        Assert.Equal(silent.Count, limiter.RefusedMaxConnections);
        await TestServer.WaitUntilAsync(() => limiter.PendingRefusals == 0, because: "every refusal ends");
    }

    [Fact]
    public async Task Over_MaxConnectionsPerAddress_an_address_gets_503_while_another_address_is_accepted()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxConnectionsPerAddress = 2);
        ConnectionLimiter limiter = server.Server.Limiter!;
        await using (var holders = new PeerList())
        {
            holders.Add(await RawPeer.ConnectWebSocketAsync(server.Port));
            holders.Add(await RawPeer.ConnectWebSocketAsync(server.Port));
            RawHttpResponse refused = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest());
            Assert.Equal(503, refused.StatusCode);
            Assert.True(refused.Headers.ContainsKey("retry-after"), refused.ToString());
            Assert.Contains("your address", refused.Body, StringComparison.Ordinal);

            holders.Add(await RawPeer.ConnectWebSocketAsync(server.Port, from: OtherLoopback));
            await AssertEchoesAsync(holders[2]);
            Assert.Equal(2, limiter.HeldFrom(IPAddress.Loopback));
            Assert.Equal(1, limiter.HeldFrom(OtherLoopback));
            Assert.Equal(1, limiter.RefusedMaxConnectionsPerAddress);
            Assert.Equal(0, limiter.RefusedMaxConnections);
        }

        await TestServer.WaitUntilAsync(() => limiter.Held == 0 && limiter.HeldFrom(IPAddress.Loopback) == 0 && limiter.HeldFrom(OtherLoopback) == 0,
            because: "the counts return to 0 once the holders leave");
        await using RawPeer again = await RawPeer.ConnectWebSocketAsync(server.Port);
        await AssertEchoesAsync(again);
    }

    [Fact]
    public async Task Every_way_a_connection_ends_gives_back_its_slot()
    {
        // With room for one connection from one address, a slot that leaks on any path refuses every later client.
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.MaxConnections = 1;
            o.MaxConnectionsPerAddress = 1;
            o.HandshakeTimeout = TimeSpan.FromSeconds(1);
        });
        ConnectionLimiter limiter = server.Server.Limiter!;
        Task SlotsFreeAsync(string path) => TestServer.WaitUntilAsync(() => limiter.Held == 0 && limiter.HeldFrom(IPAddress.Loopback) == 0, because: $"the slot comes back after {path}");

        RawHttpResponse badHandshake = await RawPeer.ExchangeHttpAsync(server.Port, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
        Assert.Equal(400, badHandshake.StatusCode);
        await SlotsFreeAsync("a refused handshake");

        RawHttpResponse plainHttp = await RawPeer.ExchangeHttpAsync(server.Port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(426, plainHttp.StatusCode);
        await SlotsFreeAsync("a plain HTTP request");

        await using (RawPeer slow = await RawPeer.ConnectAsync(server.Port))
        {
            RawHttpResponse timedOut = await slow.ReadHttpResponseAsync(TimeSpan.FromSeconds(5));
            Assert.Equal(408, timedOut.StatusCode);
        }

        await SlotsFreeAsync("a handshake timeout");

        await using (RawPeer quitter = await RawPeer.ConnectAsync(server.Port))
        {
            quitter.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
            Assert.True(await quitter.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)));
        }

        await SlotsFreeAsync("a client that left before its request");

        await using (RawPeer closer = await RawPeer.ConnectWebSocketAsync(server.Port))
        {
            await closer.SendFrameAsync(0x8, [0x03, 0xE8]);
            var reply = await closer.ReadFrameAsync();
            Assert.Equal((byte)0x8, reply?.Opcode);
        }

        await SlotsFreeAsync("a WebSocket close");

        RawPeer resetter = await RawPeer.ConnectWebSocketAsync(server.Port);
        resetter.Reset();
        await SlotsFreeAsync("a TCP reset");

        await using RawPeer last = await RawPeer.ConnectWebSocketAsync(server.Port);
        await AssertEchoesAsync(last);
        Assert.Equal(0, limiter.RefusedMaxConnections + limiter.RefusedMaxConnectionsPerAddress);
    }

    [Fact]
    public async Task A_flood_of_refused_clients_logs_a_summary_line_not_a_line_each()
    {
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.MaxConnections = 1;
            o.LoggerFactory = log;
        });
        await using RawPeer holder = await RawPeer.ConnectWebSocketAsync(server.Port);
        const int Refused = 40;
        RawHttpResponse[] responses = await Task.WhenAll(Enumerable.Range(0, Refused)
            .Select(_ => RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest())));
        Assert.All(responses, r => Assert.Equal(503, r.StatusCode));

        var aboutRefusals = log.Entries.Where(e => e.Message.Contains("Refused", StringComparison.Ordinal)).ToList();
        Assert.Equal(Refused, aboutRefusals.Count(e => e.Level == LogLevel.Debug));
        int loud = aboutRefusals.Count(e => e.Level >= LogLevel.Information);
        Assert.True(loud is >= 1 and <= 2, $"{loud} refusal lines at Information or above for {Refused} refusals in about a second:\n{log}");

        // The summaries account for every refusal, the tail of the burst included, once its second is over.
        await TestServer.WaitUntilAsync(() => SummedRefusals(log) == Refused, 5, $"summaries adding up to {Refused}:\n{log}");
    }

    private static long SummedRefusals(RecordingLoggerFactory log) =>
        log.Entries.Where(e => e.EventId.Id == 205).Sum(e => Convert.ToInt64(e.Fields.First(f => f.Key == "Count").Value, System.Globalization.CultureInfo.InvariantCulture));

    private static async Task AssertEchoesAsync(RawPeer peer)
    {
        await peer.SendFrameAsync(0x1, "ping?"u8);
        var frame = await peer.ReadFrameAsync();
        Assert.NotNull(frame);
        Assert.Equal("ping?", Encoding.UTF8.GetString(frame.Value.Payload));
    }

    /// <summary>Peers that are all closed when the list is disposed, whether the test passed or failed.</summary>
    private sealed class PeerList : List<RawPeer>, IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (RawPeer peer in this)
            {
                await peer.DisposeAsync();
            }
        }
    }
}
