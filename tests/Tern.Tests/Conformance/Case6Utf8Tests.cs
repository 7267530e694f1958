using System.Text;

namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 6, UTF-8 handling (RFC 6455 §5.6, §8.1): text messages must be valid UTF-8 as a whole, however
/// they are fragmented, and an invalid one fails the connection with 1007 — as soon as the invalid byte arrives (6.4.x:
/// fail fast), not when the message ends. 6.5–6.23 are the families of Markus Kuhn's UTF-8 decoder test in Autobahn's
/// order and numbering, each sent as a text message in one frame: valid ones are echoed, invalid ones get 1007.
/// </summary>
public class Case6Utf8Tests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    private const string Hello = "Hello-µ@ßöäüàá-UTF-8!!";

    // "κόσμε", with U+1F79 (three bytes) for the ό, as in Kuhn's test: 11 bytes, code points ending at 2, 5, 7, 9, 11.
    private static readonly byte[] Kosme = Hex("CE BA E1 BD B9 CF 83 CE BC CE B5");
    private static readonly byte[] Edited = "edited"u8.ToArray();

    [Fact]
    public Task Case_6_1_1() => EchoFramesAsync("", WireFrame.Text(""));

    [Fact]
    public Task Case_6_1_2() => EchoFramesAsync("",
        WireFrame.Text("", fin: false), WireFrame.Continuation("", fin: false), WireFrame.Continuation("", fin: true));

    [Fact]
    public Task Case_6_1_3() => EchoFramesAsync("middle frame payload",
        WireFrame.Text("", fin: false), WireFrame.Continuation("middle frame payload", fin: false), WireFrame.Continuation("", fin: true));

    [Fact]
    public Task Case_6_2_1() => EchoFramesAsync(Hello, WireFrame.Text(Hello));

    [Fact]
    public Task Case_6_2_2() => EchoFramesAsync(Hello, WireFrame.Text("Hello-µ@ßöä", fin: false), WireFrame.Continuation("üàá-UTF-8!!", fin: true));

    [Fact]
    public Task Case_6_2_3() => EchoFramesAsync(Hello, OneByteFragments(Encoding.UTF8.GetBytes(Hello)));

    [Fact]
    public Task Case_6_2_4() => EchoFramesAsync(Encoding.UTF8.GetString(Kosme), OneByteFragments(Kosme));

    [Fact]
    public async Task Case_6_3_1()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Text, Concat(Kosme, Hex("ED A0 80"), Edited)));
        await client.ExpectFailureAsync(1007);
    }

    [Fact]
    public async Task Case_6_3_2()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(OneByteFragments(Concat(Kosme, Hex("ED A0 80"), Edited))));
        await client.ExpectFailureAsync(1007);
    }

    // 6.4.x: the message is invalid from byte 12 on (F4 90 80 80 would be U+110000). The 1007 must arrive while the
    // rest of the message has not been sent: the client waits for it and never sends the third part.
    [Fact]
    public Task Case_6_4_1() => FailFastInFramesAsync(Kosme, Hex("F4 90 80 80"));

    [Fact]
    public Task Case_6_4_2() => FailFastInFramesAsync(Concat(Kosme, Hex("F4")), Hex("90"));

    [Fact]
    public Task Case_6_4_3() => FailFastInChopsAsync(Kosme, Hex("F4 90 80 80"));

    [Fact]
    public Task Case_6_4_4() => FailFastInChopsAsync(Concat(Kosme, Hex("F4")), Hex("90"));

    [Theory]
    [MemberData(nameof(KuhnCases))]
    public async Task Case_6_5_to_6_23(string caseId, string payloadHex, bool valid)
    {
        _ = caseId;
        byte[] payload = Hex(payloadHex);
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Text, payload));
        if (valid)
        {
            await client.ExpectMessageAsync(Op.Text, payload);
            await client.CloseNormallyAsync();
        }
        else
        {
            await client.ExpectFailureAsync(1007);
        }
    }

    /// <summary>Cases 6.5.1–6.23.7: id, payload in hex, and whether it is valid UTF-8.</summary>
    public static TheoryData<string, string, bool> KuhnCases()
    {
        List<(bool Valid, byte[] Payload)[]> families =
        [
            // 6.5: some valid UTF-8.
            [V(Concat("hello"u8.ToArray(), Hex("24"), "world"u8.ToArray())), V(Concat("hello"u8.ToArray(), Hex("C2 A2"), "world"u8.ToArray())),
             V(Concat("hello"u8.ToArray(), Hex("E2 82 AC"), "world"u8.ToArray())), V(Concat("hello"u8.ToArray(), Hex("F0 A4 AD A2"), "world"u8.ToArray())),
             V(Kosme)],
            // 6.6: every prefix of kosme; one that ends inside a code point is an incomplete (invalid) message.
            [.. Enumerable.Range(1, Kosme.Length).Select(n => (n is 2 or 5 or 7 or 9 or 11, Kosme[..n]))],
            // 6.7: first possible sequence of each length.
            [V("00"), V("C2 80"), V("E0 A0 80"), V("F0 90 80 80")],
            // 6.8: first five- and six-byte sequences (outside Unicode).
            [I("F8 88 80 80 80"), I("FC 84 80 80 80 80")],
            // 6.9: last possible sequence of each length.
            [V("7F"), V("DF BF"), V("EF BF BF"), V("F4 8F BF BF")],
            // 6.10: last four-, five- and six-byte sequences (outside Unicode).
            [I("F7 BF BF BF"), I("FB BF BF BF BF"), I("FD BF BF BF BF BF")],
            // 6.11: other boundary conditions.
            [V("ED 9F BF"), V("EE 80 80"), V("EF BF BD"), V("F4 8F BF BF"), I("F4 90 80 80")],
            // 6.12: unexpected continuation bytes.
            [I("80"), I("BF"), I("80 BF"), I("80 BF 80"), I("80 BF 80 BF"), I("80 BF 80 BF 80"), I("80 BF 80 BF 80 BF"),
             (false, [.. Enumerable.Range(0x80, 0x3F).Select(b => (byte)b)])],
            // 6.13: lonely start bytes, each followed by a space.
            [LonelyStarts(0xC0, 0xDF), LonelyStarts(0xE0, 0xEF), LonelyStarts(0xF0, 0xF7), LonelyStarts(0xF8, 0xFB), LonelyStarts(0xFC, 0xFD)],
            // 6.14: sequences with the last continuation byte missing.
            [.. Truncated.Select(I)],
            // 6.15: all of 6.14 concatenated.
            [I(string.Join(" ", Truncated))],
            // 6.16: impossible bytes.
            [I("FE"), I("FF"), I("FE FE FF FF")],
            // 6.17: overlong encodings of '/'.
            [I("C0 AF"), I("E0 80 AF"), I("F0 80 80 AF"), I("F8 80 80 80 AF"), I("FC 80 80 80 80 AF")],
            // 6.18: maximum overlong sequences.
            [I("C1 BF"), I("E0 9F BF"), I("F0 8F BF BF"), I("F8 87 BF BF BF"), I("FC 83 BF BF BF BF")],
            // 6.19: overlong NUL.
            [I("C0 80"), I("E0 80 80"), I("F0 80 80 80"), I("F8 80 80 80 80"), I("FC 80 80 80 80 80")],
            // 6.20: single UTF-16 surrogates.
            [I("ED A0 80"), I("ED AD BF"), I("ED AE 80"), I("ED AF BF"), I("ED B0 80"), I("ED BE 80"), I("ED BF BF")],
            // 6.21: paired UTF-16 surrogates.
            [I("ED A0 80 ED B0 80"), I("ED A0 80 ED BF BF"), I("ED AD BF ED B0 80"), I("ED AD BF ED BF BF"),
             I("ED AE 80 ED B0 80"), I("ED AE 80 ED BF BF"), I("ED AF BF ED B0 80"), I("ED AF BF ED BF BF")],
            // 6.22: non-characters, which are valid UTF-8 (RFC 3629).
            [V("EF BF BE"), V("EF BF BF"), .. NonCharacters()],
            // 6.23: the Specials block, including the replacement character.
            [V("EF BF B9"), V("EF BF BA"), V("EF BF BB"), V("EF BF BC"), V("EF BF BD"), V("EF BF BE"), V("EF BF BF")],
        ];

        var data = new TheoryData<string, string, bool>();
        for (int family = 0; family < families.Count; family++)
        {
            for (int item = 0; item < families[family].Length; item++)
            {
                (bool valid, byte[] payload) = families[family][item];
                data.Add($"6.{family + 5}.{item + 1}", Convert.ToHexString(payload), valid);
            }
        }

        return data;
    }

    private static readonly string[] Truncated =
        ["C0", "E0 80", "F0 80 80", "F8 80 80 80", "FC 80 80 80 80", "DF", "EF BF", "F7 BF BF", "FB BF BF BF", "FD BF BF BF BF"];

    private static (bool, byte[]) V(byte[] payload) => (true, payload);

    private static (bool, byte[]) V(string hex) => (true, Hex(hex));

    private static (bool, byte[]) I(string hex) => (false, Hex(hex));

    // As in Autobahn, the range stops one short of its last byte.
    private static (bool, byte[]) LonelyStarts(int first, int end) =>
        (false, [.. Enumerable.Range(first, end - first).SelectMany(b => new[] { (byte)b, (byte)0x20 })]);

    // U+xFFFE and U+xFFFF of planes 1–16, from F0..F4 × {8F,9F,AF,BF} × BF × {BE,BF}, leaving out overlong and > U+10FFFF forms.
    private static IEnumerable<(bool, byte[])> NonCharacters()
    {
        foreach (byte lead in new byte[] { 0xF0, 0xF1, 0xF2, 0xF3, 0xF4 })
        {
            foreach (byte second in new byte[] { 0x8F, 0x9F, 0xAF, 0xBF })
            {
                if ((lead == 0xF4 && second != 0x8F) || (lead == 0xF0 && second == 0x8F))
                {
                    continue;
                }

                yield return (true, [lead, second, 0xBF, 0xBE]);
                yield return (true, [lead, second, 0xBF, 0xBF]);
            }
        }
    }

    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static byte[][] OneByteFragments(byte[] payload) =>
        [.. payload.Select((b, i) => WireFrame.Encode(i == 0 ? Op.Text : Op.Continuation, [b], fin: i == payload.Length - 1))];

    private async Task EchoFramesAsync(string expected, params byte[][] frames)
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(frames));
        await client.ExpectTextAsync(expected);
        await client.CloseNormallyAsync();
    }

    private async Task FailFastInFramesAsync(byte[] validPrefix, byte[] invalidPart)
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Encode(Op.Text, validPrefix, fin: false));

        // Autobahn waits a second here and expects no close; a ping answered proves the prefix was accepted and the
        // connection is open, without the wait.
        await client.SendAsync(WireFrame.Ping("alive"));
        await client.ExpectPongAsync("alive");
        await client.SendAsync(WireFrame.Encode(Op.Continuation, invalidPart, fin: false));
        await client.ExpectFailureAsync(1007);
    }

    private async Task FailFastInChopsAsync(byte[] validPrefix, byte[] invalidPart)
    {
        // One frame whose payload (valid prefix, invalid part, the rest) is sent in separate writes; the rest never is.
        byte[] payload = Concat(Kosme, Hex("F4 90 80 80"), Edited);
        byte[] frame = WireFrame.Encode(Op.Text, payload);
        int headerLength = frame.Length - payload.Length;
        await using RawClient client = await OpenAsync();
        await client.SendAsync(frame.AsMemory(0, headerLength + validPrefix.Length));
        await client.ExpectNothingForAsync(TimeSpan.FromMilliseconds(250));
        await client.SendAsync(frame.AsMemory(headerLength + validPrefix.Length, invalidPart.Length));
        await client.ExpectFailureAsync(1007);
    }
}
