namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 4, opcodes: reserved non-control opcodes 3–7 (4.1.x) and control opcodes 11–15 (4.2.x) fail the
/// connection with 1002 (RFC 6455 §5.2), alone or after a valid message, which is echoed first (Autobahn's OK; without
/// the echo, NON-STRICT). The ping sent after the bad frame is never answered.
/// </summary>
public class Case4OpcodeTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    [Fact] public Task Case_4_1_1() => ReservedOpcodeAsync(3, withPayload: false, afterEcho: false);
    [Fact] public Task Case_4_1_2() => ReservedOpcodeAsync(4, withPayload: true, afterEcho: false);
    [Fact] public Task Case_4_1_3() => ReservedOpcodeAsync(5, withPayload: false, afterEcho: true);
    [Fact] public Task Case_4_1_4() => ReservedOpcodeAsync(6, withPayload: true, afterEcho: true);
    [Fact] public Task Case_4_1_5() => ReservedOpcodeAsync(7, withPayload: true, afterEcho: true);
    [Fact] public Task Case_4_2_1() => ReservedOpcodeAsync(11, withPayload: false, afterEcho: false);
    [Fact] public Task Case_4_2_2() => ReservedOpcodeAsync(12, withPayload: true, afterEcho: false);
    [Fact] public Task Case_4_2_3() => ReservedOpcodeAsync(13, withPayload: false, afterEcho: true);
    [Fact] public Task Case_4_2_4() => ReservedOpcodeAsync(14, withPayload: true, afterEcho: true);
    [Fact] public Task Case_4_2_5() => ReservedOpcodeAsync(15, withPayload: true, afterEcho: true);

    private async Task ReservedOpcodeAsync(int opcode, bool withPayload, bool afterEcho)
    {
        await using RawClient client = await OpenAsync();
        byte[] reserved = WireFrame.Encode(opcode, withPayload ? "reserved opcode payload"u8 : []);
        if (afterEcho)
        {
            await client.SendAsync(WireFrame.Concat(WireFrame.Text("Hello, world!"), reserved, WireFrame.Ping()));
            await client.ExpectTextAsync("Hello, world!");
        }
        else
        {
            await client.SendAsync(reserved);
        }

        await client.ExpectFailureAsync(1002);
    }
}
