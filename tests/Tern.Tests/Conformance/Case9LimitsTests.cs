namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 9, limits and performance: large messages up to 16 MiB (the server's limit here, so 9.1.6 and
/// 9.2.6 sit exactly on it), a 4 MiB message in fragments of 64 B to 4 MiB, 1 MiB sent in TCP chops of 64 B to 2 KiB,
/// and 1000 round trips of small messages, each echoed intact.
/// </summary>
public class Case9LimitsTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    private const int KiB = 1024;
    private const int MiB = 1024 * 1024;
    private static readonly TimeSpan LargeTimeout = TimeSpan.FromSeconds(60);

    /// <summary>9.1–9.6: id, opcode, message size, fragment size (0: one frame), TCP chop size (0: one write).</summary>
    public static TheoryData<string, int, int, int, int> LargeMessages()
    {
        var data = new TheoryData<string, int, int, int, int>();
        int[] sizes = [64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 8 * MiB, 16 * MiB];
        int[] fragments = [64, 256, 1 * KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB];
        int[] chops = [64, 128, 256, 512, 1 * KiB, 2 * KiB];
        foreach ((int group, int opcode) in new[] { (0, Op.Text), (1, Op.Binary) })
        {
            for (int i = 0; i < sizes.Length; i++)
            {
                data.Add($"9.{1 + group}.{i + 1}", opcode, sizes[i], 0, 0);
            }

            for (int i = 0; i < fragments.Length; i++)
            {
                data.Add($"9.{3 + group}.{i + 1}", opcode, 4 * MiB, fragments[i], 0);
            }

            for (int i = 0; i < chops.Length; i++)
            {
                data.Add($"9.{5 + group}.{i + 1}", opcode, 1 * MiB, 0, chops[i]);
            }
        }

        return data;
    }

    /// <summary>9.7–9.8: id, opcode, message size.</summary>
    public static TheoryData<string, int, int> RoundTrips()
    {
        var data = new TheoryData<string, int, int>();
        int[] sizes = [0, 16, 64, 256, 1 * KiB, 4 * KiB];
        for (int i = 0; i < sizes.Length; i++)
        {
            data.Add($"9.7.{i + 1}", Op.Text, sizes[i]);
        }

        for (int i = 0; i < sizes.Length; i++)
        {
            data.Add($"9.8.{i + 1}", Op.Binary, sizes[i]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LargeMessages))]
    public async Task Case_9_1_to_9_6(string caseId, int opcode, int size, int fragmentSize, int chopSize)
    {
        _ = caseId;
        byte[] payload = Payload(opcode, size);
        byte[] wire = fragmentSize > 0 ? WireFrame.Fragmented(opcode, payload, fragmentSize) : WireFrame.Encode(opcode, payload);
        await using RawClient client = await OpenAsync();
        await client.SendAsync(wire, chopSize);
        await client.ExpectMessageAsync(opcode, payload, LargeTimeout);
        await client.CloseNormallyAsync();
    }

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public async Task Case_9_7_to_9_8(string caseId, int opcode, int size)
    {
        // Each message goes out only once the previous echo is back, as in Autobahn (which measures the round-trip time).
        _ = caseId;
        byte[] payload = Payload(opcode, size);
        await using RawClient client = await OpenAsync();
        for (int i = 0; i < 1000; i++)
        {
            await client.SendAsync(WireFrame.Encode(opcode, payload));
            await client.ExpectMessageAsync(opcode, payload);
        }

        await client.CloseNormallyAsync();
    }

    /// <summary>
    /// Not Autobahn cases (its fuzzing client never exceeds a limit): one byte over the server's limit fails the
    /// connection with 1009 as soon as the frame header that crosses it arrives, before any of that payload is sent.
    /// </summary>
    [Theory]
    [InlineData("9.x-tern.1", false)]
    [InlineData("9.x-tern.2", true)]
    public async Task Case_9_x_tern_over_the_limit_fails_from_the_header(string caseId, bool fragmented)
    {
        _ = caseId;
        await using RawClient client = await OpenAsync();
        byte[] header;
        if (fragmented)
        {
            // A first fragment exactly at the limit is fine; a continuation announcing one byte more is not.
            await client.SendAsync(WireFrame.Encode(Op.Binary, new byte[ConformanceServer.MaxMessageSize], fin: false));
            header = WireFrame.Encode(Op.Continuation, [0x2A]);
        }
        else
        {
            header = WireFrame.Encode(Op.Binary, new byte[ConformanceServer.MaxMessageSize + 1]);
        }

        // Only the header (and mask key) goes out: the server must not wait for the payload to refuse it.
        int headerLength = fragmented ? 2 + 4 : 2 + 8 + 4;
        await client.SendAsync(header.AsMemory(0, headerLength));
        await client.ExpectFailureAsync(1009);
    }

    private static byte[] Payload(int opcode, int size)
    {
        // Text: ASCII with a sprinkle of multi-byte characters, cut on a character boundary; binary: random bytes.
        var payload = new byte[size];
        if (opcode == Op.Binary)
        {
            new Random(size).NextBytes(payload);
            return payload;
        }

        ReadOnlySpan<byte> pattern = "Tern-µ-€-𐍈-"u8;
        for (int i = 0; i < size; i += pattern.Length)
        {
            pattern[..Math.Min(pattern.Length, size - i)].CopyTo(payload.AsSpan(i));
        }

        int tail = size % pattern.Length;
        if (tail > 0)
        {
            // Replace the partial pattern at the end with ASCII so the message stays valid UTF-8.
            payload.AsSpan(size - tail).Fill((byte)'*');
        }

        return payload;
    }
}
