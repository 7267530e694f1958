using System.Buffers;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>The shared budget for message buffers: decoders reserve from it, fail with 1013 past it, and give it all back.</summary>
public sealed class BufferBudgetTests
{
    [Fact]
    public void Reservations_stop_at_the_limit_and_releases_make_room()
    {
        var budget = new BufferBudget(100);
        Assert.True(budget.TryReserve(60));
        Assert.False(budget.TryReserve(41));
        Assert.Equal(60, budget.InUse);
        Assert.True(budget.TryReserve(40));
        budget.Release(60);
        Assert.Equal(40, budget.InUse);
        Assert.True(budget.TryReserve(60));
        Assert.False(budget.TryReserve(1));
    }

    [Fact]
    public void A_message_that_would_pass_the_budget_fails_with_1013_and_the_others_go_on()
    {
        var budget = new BufferBudget(3 * 1024 * 1024);
        using var first = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 4 * 1024 * 1024, budget);
        using var second = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 4 * 1024 * 1024, budget);
        byte[] firstMessage = Enumerable.Range(0, 2 * 1024 * 1024).Select(i => (byte)i).ToArray();
        byte[] firstWire = FrameBuilder.Frame(Opcode.Binary, firstMessage);
        byte[] secondWire = FrameBuilder.Frame(Opcode.Binary, new byte[2 * 1024 * 1024]);

        // The first message's header and three quarters of its payload: its buffer has grown to 2 MiB (1 MiB from the
        // header, as the pool serves at most that, then doubled as the bytes came).
        int firstCut = firstWire.Length * 3 / 4;
        var firstInput = new ReadOnlySequence<byte>(firstWire, 0, firstCut);
        Assert.Equal(ProtocolEventType.NeedMoreData, first.Read(ref firstInput).Type);
        Assert.Equal(2 * 1024 * 1024, budget.InUse);

        // Another 2 MiB message: its first 1 MiB fits what is left, its growth past that does not, so that connection
        // is told to try again later and gives its share back.
        var secondInput = new ReadOnlySequence<byte>(secondWire, 0, 1536 * 1024);
        ProtocolEvent refused = second.Read(ref secondInput);
        Assert.Equal(ProtocolEventType.ProtocolError, refused.Type);
        Assert.Equal(WebSocketCloseCode.TryAgainLater, refused.CloseCode);
        Assert.Equal(2 * 1024 * 1024, budget.InUse);

        // The first message completes intact, and its buffer goes back once the next read starts.
        var rest = new ReadOnlySequence<byte>(firstWire, firstCut, firstWire.Length - firstCut);
        ProtocolEvent message = first.Read(ref rest);
        Assert.Equal(ProtocolEventType.Message, message.Type);
        Assert.True(message.Payload.Span.SequenceEqual(firstMessage));
        first.ReleaseIdleBuffers();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void A_fragmented_message_reserves_as_it_grows_and_releases_everything_when_disposed()
    {
        var budget = new BufferBudget(1024 * 1024);
        var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 8 * 1024 * 1024, budget);
        long lastInUse = 0;
        bool refused = false;
        for (int i = 0; i < 64 && !refused; i++)
        {
            var input = new ReadOnlySequence<byte>(FrameBuilder.Frame(i == 0 ? Opcode.Binary : Opcode.Continuation, new byte[64 * 1024], fin: false));
            ProtocolEvent e = decoder.Read(ref input);
            if (e.Type == ProtocolEventType.ProtocolError)
            {
                Assert.Equal(WebSocketCloseCode.TryAgainLater, e.CloseCode);
                refused = true;
                break;
            }

            Assert.Equal(ProtocolEventType.NeedMoreData, e.Type);
            Assert.True(budget.InUse >= lastInUse && budget.InUse <= budget.Limit, $"in use {budget.InUse}");
            lastInUse = budget.InUse;
        }

        // 64 x 64 KiB = 4 MiB cannot fit a 1 MiB budget: the message is refused on the way, not after.
        Assert.True(refused);
        Assert.Equal(0, budget.InUse);
        decoder.Dispose();
        Assert.Equal(0, budget.InUse);

        var other = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 8 * 1024 * 1024, budget);
        var partial = new ReadOnlySequence<byte>(FrameBuilder.Frame(Opcode.Binary, new byte[64 * 1024], fin: false));
        Assert.Equal(ProtocolEventType.NeedMoreData, other.Read(ref partial).Type);
        Assert.True(budget.InUse > 0);
        other.Dispose();
        Assert.Equal(0, budget.InUse);
    }
}
