namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 3, reserved bits: with no extension negotiated, a frame with any RSV bit set fails the connection
/// with 1002 (RFC 6455 §5.2). When a valid message precedes the bad frame it is echoed first (Autobahn's OK; failing
/// without the echo would be NON-STRICT), and the ping after the bad frame is never answered.
/// </summary>
public class Case3ReservedBitsTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    private const string Hello = "Hello, world!";

    [Fact]
    public async Task Case_3_1()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Text, "Hello, world!"u8, rsv: 1));
        await client.ExpectFailureAsync(1002);
    }

    [Fact]
    public Task Case_3_2() => EchoThenBadRsvAsync(rsv: 2, Chops.None);

    [Fact]
    public Task Case_3_3() => EchoThenBadRsvAsync(rsv: 3, Chops.FrameWise);

    [Fact]
    public Task Case_3_4() => EchoThenBadRsvAsync(rsv: 4, Chops.OctetWise);

    [Fact]
    public async Task Case_3_5()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Binary, [0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF], rsv: 5));
        await client.ExpectFailureAsync(1002);
    }

    [Fact]
    public async Task Case_3_6()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Ping, "Hello, world!"u8, rsv: 6));
        await client.ExpectFailureAsync(1002);
    }

    [Fact]
    public async Task Case_3_7()
    {
        byte[] close = WireFrame.Close(1000);
        close[0] |= 7 << 4;
        await using RawClient client = await OpenAsync();
        await client.SendAsync(close);
        await client.ExpectFailureAsync(1002);
    }

    private async Task EchoThenBadRsvAsync(int rsv, Chops chops)
    {
        await using RawClient client = await OpenAsync();
        byte[][] frames = [WireFrame.Text(Hello), WireFrame.Encode(Op.Text, "Hello, world!"u8, rsv: rsv), WireFrame.Ping()];
        await chops.SendAsync(client, frames);
        await client.ExpectTextAsync(Hello);
        await client.ExpectFailureAsync(1002);
    }
}
