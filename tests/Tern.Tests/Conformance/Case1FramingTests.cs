namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 1, framing: text (1.1.x) and binary (1.2.x) messages with payloads at the edges of the three length
/// forms, echoed unchanged. The raw client also checks that the server encodes each length in the minimal form.
/// </summary>
public class Case1FramingTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    [Fact] public Task Case_1_1_1() => EchoAsync(Op.Text, 0);
    [Fact] public Task Case_1_1_2() => EchoAsync(Op.Text, 125);
    [Fact] public Task Case_1_1_3() => EchoAsync(Op.Text, 126);
    [Fact] public Task Case_1_1_4() => EchoAsync(Op.Text, 127);
    [Fact] public Task Case_1_1_5() => EchoAsync(Op.Text, 128);
    [Fact] public Task Case_1_1_6() => EchoAsync(Op.Text, 65535);
    [Fact] public Task Case_1_1_7() => EchoAsync(Op.Text, 65536);
    [Fact] public Task Case_1_1_8() => EchoAsync(Op.Text, 65536, chopSize: 997);

    [Fact] public Task Case_1_2_1() => EchoAsync(Op.Binary, 0);
    [Fact] public Task Case_1_2_2() => EchoAsync(Op.Binary, 125);
    [Fact] public Task Case_1_2_3() => EchoAsync(Op.Binary, 126);
    [Fact] public Task Case_1_2_4() => EchoAsync(Op.Binary, 127);
    [Fact] public Task Case_1_2_5() => EchoAsync(Op.Binary, 128);
    [Fact] public Task Case_1_2_6() => EchoAsync(Op.Binary, 65535);
    [Fact] public Task Case_1_2_7() => EchoAsync(Op.Binary, 65536);
    [Fact] public Task Case_1_2_8() => EchoAsync(Op.Binary, 65536, chopSize: 997);

    /// <summary>Sends one frame (in TCP chops of <paramref name="chopSize"/> bytes when given), expects the echo, closes cleanly.</summary>
    private async Task EchoAsync(int opcode, int length, int chopSize = 0)
    {
        // As in Autobahn: '*' for text, 0xFE for binary.
        byte[] payload = Enumerable.Repeat(opcode == Op.Text ? (byte)'*' : (byte)0xFE, length).ToArray();
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(opcode, payload), chopSize, chopDelayMs: chopSize > 0 ? 1 : 0);
        await client.ExpectMessageAsync(opcode, payload);
        await client.CloseNormallyAsync();
    }
}
