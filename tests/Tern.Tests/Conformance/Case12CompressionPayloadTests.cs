namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 12, "WebSocket Compression (different payloads)": with the default offer
/// (<c>permessage-deflate; client_max_window_bits</c>), batches of compressed messages of five kinds of data (12.1 JSON,
/// 12.2 a bitmap, 12.3 multilingual prose, 12.4 HTML, 12.5 random bytes) and 18 size and auto-fragmentation settings
/// each, every echo compared byte for byte. The server runs Tern's default compression settings.
/// </summary>
public class Case12CompressionPayloadTests(DeflateServer server) : ConformanceCases<DeflateServer>(server)
{
    /// <summary>12.1.1–12.5.18: id, kind of data, message size, auto-fragment size.</summary>
    public static TheoryData<string, PayloadKind, int, int> Payloads()
    {
        var data = new TheoryData<string, PayloadKind, int, int>();
        foreach (PayloadKind kind in Enum.GetValues<PayloadKind>())
        {
            for (int i = 0; i < CompressionEcho.Sizes.Length; i++)
            {
                (int size, int fragmentSize) = CompressionEcho.Sizes[i];
                data.Add($"12.{(int)kind}.{i + 1}", kind, size, fragmentSize);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task Case_12_x_x(string caseId, PayloadKind kind, int size, int fragmentSize)
    {
        _ = caseId;
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        await CompressionEcho.RunAsync(client, _ => kind, size, fragmentSize, CompressionEcho.MessageCount(size), Fixture.CompressionThreshold);
        await client.CloseNormallyAsync();
    }
}
