namespace Tern.Tests.Conformance;

/// <summary>Autobahn category 10, miscellaneous: 10.1.1, a 64 KiB text message auto-fragmented into 1300-byte frames.</summary>
public class Case10MiscTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    [Fact]
    public async Task Case_10_1_1()
    {
        byte[] payload = Enumerable.Repeat((byte)'*', 65536).ToArray();
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Fragmented(Op.Text, payload, 1300));
        await client.ExpectMessageAsync(Op.Text, payload);
        await client.CloseNormallyAsync();
    }
}
