using System.Buffers.Binary;
using System.Reflection;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Diagnostics;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Diagnostics;

/// <summary>Log lines are safe (peer text escaped), quiet (a crowd of clients is throttled) and structured (EventIds).</summary>
public sealed class LogTests
{
    [Theory]
    [InlineData("plain reason", "plain reason")]
    [InlineData("bye\r\n12:00:00 crit: forged", "bye\\r\\n12:00:00 crit: forged")]
    [InlineData("\u001b[31mred\u001b[0m", "\\x1B[31mred\\x1B[0m")]
    [InlineData("tab\there", "tab\\there")]
    [InlineData("back\\slash", "back\\\\slash")]
    [InlineData("del\u007fc1\u0085", "del\\x7Fc1\\x85")]
    [InlineData("rtl\u202Eevil", "rtl\\u202Eevil")]
    [InlineData("line\u2028sep", "line\\u2028sep")]
    [InlineData("emoji \U0001F600 and 中文 stay", "emoji \U0001F600 and 中文 stay")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Peer_text_is_escaped(string? raw, string logged)
    {
        Assert.Equal(logged, PeerText.Escape(raw));
        Assert.Equal(logged, new PeerText(raw).ToString());
    }

    [Fact]
    public void Lone_surrogates_are_escaped_and_pairs_kept()
    {
        // Not InlineData: test-case serialization would replace a lone surrogate before the test sees it.
        Assert.Equal("lone \\uD800 high", PeerText.Escape("lone \uD800 high"));
        Assert.Equal("lone \\uDC00 low", PeerText.Escape("lone \uDC00 low"));
        Assert.Equal("end \\uD83D", PeerText.Escape("end \uD83D"));
        Assert.Equal("pair \uD83D\uDE00", PeerText.Escape("pair \uD83D\uDE00"));
    }

    [Fact]
    public void Long_peer_text_is_cut_with_a_note()
    {
        string escaped = PeerText.Escape(new string('a', 1000));
        Assert.StartsWith(new string('a', PeerText.MaxLength), escaped);
        Assert.EndsWith("… (744 more characters)", escaped);
    }

    [Fact]
    public void A_throttle_lets_a_few_lines_a_second_through_and_reports_the_rest_with_the_next()
    {
        var throttle = new LogThrottle(linesPerSecond: 3);
        int written = 0;
        for (int i = 0; i < 100; i++)
        {
            if (throttle.TryEnter(out long suppressed))
            {
                Assert.Equal(0, suppressed);
                written++;
            }
        }

        Assert.Equal(3, written);
        Thread.Sleep(1100);
        Assert.True(throttle.TryEnter(out long reported));
        Assert.Equal(97, reported);
    }

    [Fact]
    public void Every_log_event_has_its_own_EventId()
    {
        List<LoggerMessageAttribute> events = typeof(Log).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .OfType<LoggerMessageAttribute>()
            .ToList();
        Assert.True(events.Count >= 25, $"{events.Count} events");
        Assert.Equal(events.Count, events.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task A_forged_close_reason_reaches_the_log_escaped_with_its_EventId_and_fields()
    {
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(options: o => o.LoggerFactory = log);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        const string Forged = "bye\r\n\u001b[31m12:00:00 fail: Tern.WebSocketServer[1] forged";
        byte[] reason = Encoding.UTF8.GetBytes(Forged);
        byte[] payload = new byte[2 + reason.Length];
        BinaryPrimitives.WriteUInt16BigEndian(payload, 4000);
        reason.CopyTo(payload, 2);
        await peer.SendFrameAsync(0x8, payload);
        Assert.Equal(0x8, (await peer.ReadFrameAsync())!.Value.Opcode);
        await TestServer.WaitUntilAsync(() => log.Entries.Any(e => e.EventId.Id == 401), because: "the connection closed line");

        var closed = log.Entries.Single(e => e.EventId.Id == 401);
        Assert.Equal(LogLevel.Debug, closed.Level);
        Assert.Equal("ConnectionClosed", closed.EventId.Name);
        Assert.Contains("4000 bye\\r\\n\\x1B[31m12:00:00 fail:", closed.Message);
        Assert.All(log.Entries, e => Assert.DoesNotContain(e.Message, c => c is '\r' or '\n' or '\u001b'));
        Assert.Contains(closed.Fields, f => f.Key == "Code" && Equals(f.Value, 4000));
        Assert.Contains(closed.Fields, f => f.Key == "Id");
    }

    [Fact]
    public async Task A_crowd_of_refused_clients_costs_a_few_lines_not_one_each()
    {
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/only", (_, _) => Task.CompletedTask), o => o.LoggerFactory = log);
        for (int i = 0; i < 40; i++)
        {
            RawHttpResponse response = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/nowhere"));
            Assert.StartsWith("HTTP/1.1 404 ", response.Head);
        }

        int refusals = log.Entries.Count(e => e.EventId.Id == 301);
        Assert.InRange(refusals, 1, 5 * 3);
        Assert.All(log.Entries.Where(e => e.EventId.Id == 301), e => Assert.Contains("GET /nowhere from", e.Message));
    }
}
