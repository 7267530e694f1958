using System.Text;

namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 2, pings and pongs: every ping is answered by a pong with the same payload (RFC 6455 §5.5.2,
/// §5.5.3), a control payload over 125 bytes fails the connection (§5.5), and unsolicited pongs are ignored.
/// </summary>
public class Case2PingPongTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    private static readonly byte[] SmallBinary = [0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF];

    [Fact]
    public Task Case_2_1() => PingPongAsync([]);

    [Fact]
    public Task Case_2_2() => PingPongAsync("Hello, world!"u8.ToArray());

    [Fact]
    public Task Case_2_3() => PingPongAsync(SmallBinary);

    [Fact]
    public Task Case_2_4() => PingPongAsync(Filled(125));

    [Fact]
    public async Task Case_2_5()
    {
        // 126 bytes: the 16-bit length form, not allowed for a control frame.
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Ping, Filled(126)));
        await client.ExpectFailureAsync(1002);
    }

    [Fact]
    public Task Case_2_6() => PingPongAsync(Filled(125), chopSize: 1);

    [Fact]
    public async Task Case_2_7()
    {
        // The close echo must be the very next thing: nothing may answer the pong.
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Pong());
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_2_8()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Pong("unsolicited pong payload"));
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_2_9()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(WireFrame.Pong("unsolicited pong payload"), WireFrame.Ping("ping payload")));
        await client.ExpectPongAsync("ping payload");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public Task Case_2_10() => TenPingsAsync(chopSize: 0);

    [Fact]
    public Task Case_2_11() => TenPingsAsync(chopSize: 1);

    private static byte[] Filled(int length) => Enumerable.Repeat((byte)0xFE, length).ToArray();

    private async Task PingPongAsync(byte[] payload, int chopSize = 0)
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Ping, payload), chopSize, chopDelayMs: chopSize > 0 ? 1 : 0);
        await client.ExpectPongAsync(payload);
        await client.CloseNormallyAsync();
    }

    private async Task TenPingsAsync(int chopSize)
    {
        // RFC 6455 only requires a pong for the most recent of several pings; Autobahn (and Tern) answer every one, in order.
        await using RawClient client = await OpenAsync();
        string[] payloads = Enumerable.Range(0, 10).Select(i => $"payload-{i}").ToArray();
        await client.SendAsync(WireFrame.Concat([.. payloads.Select(WireFrame.Ping)]), chopSize, chopDelayMs: chopSize > 0 ? 1 : 0);
        foreach (string payload in payloads)
        {
            await client.ExpectPongAsync(Encoding.UTF8.GetBytes(payload));
        }

        await client.CloseNormallyAsync();
    }
}
