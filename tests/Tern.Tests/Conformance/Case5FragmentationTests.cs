namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 5, fragmentation (RFC 6455 §5.4): control frames are never fragmented, fragments of a message are
/// reassembled, control frames may come between them and are answered at once, and a continuation frame with nothing to
/// continue, or a new data frame inside a fragmented message, fails the connection with 1002.
/// </summary>
public class Case5FragmentationTests(ConformanceServer server) : ConformanceCases<ConformanceServer>(server)
{
    [Fact]
    public async Task Case_5_1()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(
            WireFrame.Encode(Op.Ping, "fragment1"u8, fin: false), WireFrame.Continuation("fragment2", fin: true)));
        await client.ExpectFailureAsync(1002);
    }

    [Fact]
    public async Task Case_5_2()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(
            WireFrame.Encode(Op.Pong, "fragment1"u8, fin: false), WireFrame.Continuation("fragment2", fin: true)));
        await client.ExpectFailureAsync(1002);
    }

    [Fact] public Task Case_5_3() => TwoFragmentsAsync(Chops.None);
    [Fact] public Task Case_5_4() => TwoFragmentsAsync(Chops.FrameWise);
    [Fact] public Task Case_5_5() => TwoFragmentsAsync(Chops.OctetWise);

    [Fact] public Task Case_5_6() => TwoFragmentsWithPingAsync(Chops.None);
    [Fact] public Task Case_5_7() => TwoFragmentsWithPingAsync(Chops.FrameWise);
    [Fact] public Task Case_5_8() => TwoFragmentsWithPingAsync(Chops.OctetWise);

    [Fact] public Task Case_5_9() => OrphanContinuationAsync(continuationFin: true, Chops.None);
    [Fact] public Task Case_5_10() => OrphanContinuationAsync(continuationFin: true, Chops.FrameWise);
    [Fact] public Task Case_5_11() => OrphanContinuationAsync(continuationFin: true, Chops.OctetWise);
    [Fact] public Task Case_5_12() => OrphanContinuationAsync(continuationFin: false, Chops.None);
    [Fact] public Task Case_5_13() => OrphanContinuationAsync(continuationFin: false, Chops.FrameWise);
    [Fact] public Task Case_5_14() => OrphanContinuationAsync(continuationFin: false, Chops.OctetWise);

    [Fact]
    public async Task Case_5_15()
    {
        // The first message is complete and valid, so it is echoed (Autobahn's OK; failing without it is NON-STRICT);
        // the continuation after it has nothing to continue.
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(
            WireFrame.Text("fragment1", fin: false), WireFrame.Continuation("fragment2", fin: true),
            WireFrame.Continuation("fragment3", fin: false), WireFrame.Text("fragment4")));
        await client.ExpectTextAsync("fragment1fragment2");
        await client.ExpectFailureAsync(1002);
    }

    [Fact] public Task Case_5_16() => RepeatedOrphanThenMessageAsync(continuationFin: false);
    [Fact] public Task Case_5_17() => RepeatedOrphanThenMessageAsync(continuationFin: true);

    [Fact]
    public async Task Case_5_18()
    {
        // The second fragment carries the text opcode instead of continuation: a new message inside the first one.
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(WireFrame.Text("fragment1", fin: false), WireFrame.Text("fragment2")));
        await client.ExpectFailureAsync(1002);
    }

    [Fact] public Task Case_5_19() => FiveFragmentsWithPingsAsync(Chops.None);
    [Fact] public Task Case_5_20() => FiveFragmentsWithPingsAsync(Chops.FrameWise);

    private async Task TwoFragmentsAsync(Chops chops)
    {
        await using RawClient client = await OpenAsync();
        await chops.SendAsync(client, WireFrame.Text("fragment1", fin: false), WireFrame.Continuation("fragment2", fin: true));
        await client.ExpectTextAsync("fragment1fragment2");
        await client.CloseNormallyAsync();
    }

    private async Task TwoFragmentsWithPingAsync(Chops chops)
    {
        await using RawClient client = await OpenAsync();
        await chops.SendAsync(client,
            WireFrame.Text("fragment1", fin: false), WireFrame.Ping("ping payload"), WireFrame.Continuation("fragment2", fin: true));
        await client.ExpectPongAsync("ping payload");
        await client.ExpectTextAsync("fragment1fragment2");
        await client.CloseNormallyAsync();
    }

    private async Task OrphanContinuationAsync(bool continuationFin, Chops chops)
    {
        // The valid message after the orphan continuation must not be echoed: the connection is already failed.
        await using RawClient client = await OpenAsync();
        await chops.SendAsync(client, WireFrame.Continuation("non-continuation payload", continuationFin), WireFrame.Text("Hello, world!"));
        await client.ExpectFailureAsync(1002);
    }

    private async Task RepeatedOrphanThenMessageAsync(bool continuationFin)
    {
        byte[] round = WireFrame.Concat(
            WireFrame.Continuation("fragment1", continuationFin), WireFrame.Text("fragment2", fin: false), WireFrame.Continuation("fragment3", fin: true));
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(round, round));
        await client.ExpectFailureAsync(1002);
    }

    private async Task FiveFragmentsWithPingsAsync(Chops chops)
    {
        // Autobahn waits a second after the first ping; waiting for its pong instead proves the same thing without the
        // delay: the server answers a ping before the message around it is complete.
        await using RawClient client = await OpenAsync();
        await chops.SendAsync(client,
            WireFrame.Text("fragment1", fin: false), WireFrame.Continuation("fragment2", fin: false), WireFrame.Ping("pongme 1!"));
        await client.ExpectPongAsync("pongme 1!");
        await chops.SendAsync(client,
            WireFrame.Continuation("fragment3", fin: false), WireFrame.Continuation("fragment4", fin: false),
            WireFrame.Ping("pongme 2!"), WireFrame.Continuation("fragment5", fin: true));
        await client.ExpectPongAsync("pongme 2!");
        await client.ExpectTextAsync("fragment1fragment2fragment3fragment4fragment5");
        await client.CloseNormallyAsync();
    }
}
