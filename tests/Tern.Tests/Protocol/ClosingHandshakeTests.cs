using System.Buffers;
using Tern.Protocol;
using static Tern.Tests.Protocol.FrameBuilder;

namespace Tern.Tests.Protocol;

/// <summary>
/// The closing handshake state machine, driven by what the decoder makes of wire bytes and by the application's calls,
/// as the connection drives it.
/// </summary>
public class ClosingHandshakeTests
{
    /// <summary>Decodes the peer's bytes up to the first close or protocol error and reports it to the handshake.</summary>
    private static CloseStep Receive(ClosingHandshake handshake, byte[] wire)
    {
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 1024);
        var input = new ReadOnlySequence<byte>(wire);
        while (true)
        {
            ProtocolEvent received = decoder.Read(ref input);
            switch (received.Type)
            {
                case ProtocolEventType.Close:
                    return handshake.PeerClosed(received.CloseCode, received.Reason);
                case ProtocolEventType.ProtocolError:
                    return handshake.ProtocolError(received.CloseCode, received.Reason);
                case ProtocolEventType.NeedMoreData:
                    throw new InvalidOperationException("The bytes hold no close frame and no protocol error.");
            }
        }
    }

    /// <summary>The bytes a server sends for a step: its close frame, or nothing.</summary>
    private static byte[] Sent(CloseStep step)
    {
        var output = new ArrayBufferWriter<byte>();
        if (step.SendCloseFrame)
        {
            FrameWriter.WriteClose(output, step.Code, step.Reason);
        }

        return output.WrittenSpan.ToArray();
    }

    public static TheoryData<byte[], byte[]> PeerBytesAndAnswers => new()
    {
        // A close with code and reason is echoed with the code alone.
        { Close(1000, "bye"), [0x88, 0x02, 0x03, 0xE8] },
        { Close(4321, "application code"), [0x88, 0x02, 0x10, 0xE1] },
        // An empty close (1005 inside) is echoed with an empty close, never with 1005 on the wire.
        { Frame(Opcode.Close, []), [0x88, 0x00] },
        // A close with a code that may not be sent (1005 itself) is a protocol error: 1002, with a reason.
        { Frame(Opcode.Close, [0x03, 0xED]), [0x88] },
        // A reserved bit: 1002.
        { Frame(Opcode.Binary, [1, 2, 3], rsv: 0b001), [0x88] },
        // A fragmented ping: 1002.
        { Frame(Opcode.Ping, [], fin: false), [0x88] },
        // An unmasked frame from a client: 1002.
        { Frame(Opcode.Text, "x"u8, masked: false), [0x88] },
    };

    [Theory]
    [MemberData(nameof(PeerBytesAndAnswers))]
    public void WhatThePeerSendsDecidesTheCloseFrameSentBack(byte[] peerBytes, byte[] expectedPrefix)
    {
        byte[] sent = Sent(Receive(new ClosingHandshake(), peerBytes));
        Assert.Equal(expectedPrefix, sent.AsSpan(0, Math.Min(sent.Length, expectedPrefix.Length)).ToArray());
        if (expectedPrefix.Length == 1)
        {
            // An error close: 1002 and a readable reason.
            Assert.Equal([0x03, 0xEA], sent.AsSpan(2, 2).ToArray());
            Assert.True(sent[1] > 2);
        }
        else
        {
            Assert.Equal(expectedPrefix.Length, sent.Length);
        }
    }

    [Fact]
    public void AClosingConnectionSendsNoBytesForThePeersAnswer()
    {
        var handshake = new ClosingHandshake();
        Assert.Equal([0x88, 0x05, 0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e'], Sent(handshake.Close(WebSocketCloseCode.NormalClosure, "bye")));
        Assert.Empty(Sent(Receive(handshake, Close(1000))));
        Assert.Empty(Sent(handshake.Close(WebSocketCloseCode.NormalClosure, "bye")));
    }

    [Fact]
    public void APeersCloseIsEchoedWithItsCodeAndTheConnectionClosesAtOnce()
    {
        var handshake = new ClosingHandshake();
        CloseStep step = Receive(handshake, Close(1001, "going away"));
        Assert.Equal(new CloseStep(SendCloseFrame: true, WebSocketCloseCode.GoingAway, Reason: null, CloseFinish.CloseNow), step);
        Assert.Equal(WebSocketConnectionState.Closed, handshake.State);
        Assert.Equal(new WebSocketCloseInfo(WebSocketCloseCode.GoingAway, "going away"), handshake.CloseInfo);
        Assert.False(handshake.CanSend);
    }

    [Fact]
    public void AnEmptyCloseIsAnsweredWithAnEmptyClose()
    {
        var handshake = new ClosingHandshake();
        CloseStep step = Receive(handshake, Frame(Opcode.Close, []));
        // 1005 is never put on the wire: it stands for "no code", which the frame writer sends as an empty payload.
        Assert.True(step.SendCloseFrame);
        Assert.Equal(WebSocketCloseCode.NoStatusReceived, step.Code);
        Assert.Equal(WebSocketCloseCode.NoStatusReceived, handshake.CloseInfo!.Code);
    }

    [Fact]
    public void OurCloseIsSentOnceAndThenWaitsForThePeer()
    {
        var handshake = new ClosingHandshake();
        CloseStep first = handshake.Close(WebSocketCloseCode.NormalClosure, "bye");
        Assert.Equal(new CloseStep(true, WebSocketCloseCode.NormalClosure, "bye", CloseFinish.KeepReading), first);
        Assert.Equal(WebSocketConnectionState.CloseSent, handshake.State);
        Assert.False(handshake.CanSend);
        Assert.False(handshake.DeliversMessages);
        // Not how it ended yet: that is the peer's answer.
        Assert.Null(handshake.CloseInfo);

        Assert.Equal(CloseStep.None, handshake.Close(WebSocketCloseCode.InternalServerError, "again"));

        // The peer's answer completes the handshake without a second close frame.
        CloseStep answer = Receive(handshake, Close(1000, "bye too"));
        Assert.Equal(new CloseStep(false, WebSocketCloseCode.NormalClosure, null, CloseFinish.CloseNow), answer);
        Assert.Equal(new WebSocketCloseInfo(WebSocketCloseCode.NormalClosure, "bye too"), handshake.CloseInfo);
    }

    [Fact]
    public void AnImposedCloseIsReportedAsTheReasonWhateverThePeerAnswers()
    {
        var handshake = new ClosingHandshake();
        CloseStep step = handshake.Close(WebSocketCloseCode.PolicyViolation, "too slow", recordAsCloseInfo: true);
        Assert.True(step.SendCloseFrame);
        Receive(handshake, Close(1000));
        Assert.Equal(new WebSocketCloseInfo(WebSocketCloseCode.PolicyViolation, "too slow"), handshake.CloseInfo);
    }

    [Fact]
    public void AnImposedCloseWithoutAReasonIsReportedWithAnEmptyOne()
    {
        var handshake = new ClosingHandshake();
        handshake.Close(WebSocketCloseCode.TryAgainLater, reason: null, recordAsCloseInfo: true);
        Assert.Equal(new WebSocketCloseInfo(WebSocketCloseCode.TryAgainLater, ""), handshake.CloseInfo);
    }

    [Fact]
    public void AProtocolErrorSendsItsCodeAndWaitsForThePeerToFinish()
    {
        var handshake = new ClosingHandshake();
        // A text frame with RSV2 set: 1002.
        CloseStep step = Receive(handshake, Frame(Opcode.Text, "hi"u8, rsv: 0b010));
        Assert.True(step.SendCloseFrame);
        Assert.Equal(WebSocketCloseCode.ProtocolError, step.Code);
        Assert.False(string.IsNullOrEmpty(step.Reason));
        Assert.Equal(CloseFinish.CloseAfterPeerFinishes, step.Finish);
        Assert.Equal(WebSocketConnectionState.Closed, handshake.State);
        Assert.Equal(WebSocketCloseCode.ProtocolError, handshake.CloseInfo!.Code);
    }

    [Fact]
    public void AProtocolErrorAfterOurCloseSendsNoSecondCloseFrame()
    {
        var handshake = new ClosingHandshake();
        handshake.Close(WebSocketCloseCode.NormalClosure, null);
        // Invalid UTF-8 in a text frame the peer sent before it saw our close: 1007, but our close frame already went.
        CloseStep step = Receive(handshake, Frame(Opcode.Text, [0xC0, 0x80]));
        Assert.Equal(new CloseStep(false, WebSocketCloseCode.InvalidPayloadData, step.Reason, CloseFinish.CloseAfterPeerFinishes), step);
        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, handshake.CloseInfo!.Code);
    }

    [Fact]
    public void TheEndOfTheStreamWithoutACloseFrameIs1006()
    {
        var handshake = new ClosingHandshake();
        Assert.True(handshake.StreamEnded());
        Assert.Equal(new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, ClosingHandshake.DroppedReason), handshake.CloseInfo);
        // Once closed, a second end is not news.
        Assert.False(handshake.StreamEnded());
    }

    [Fact]
    public void TheEndOfTheStreamAfterOurCloseStillEndsAClosingConnection()
    {
        var handshake = new ClosingHandshake();
        handshake.Close(WebSocketCloseCode.NormalClosure, null);
        Assert.True(handshake.StreamEnded());
        Assert.Equal(WebSocketCloseCode.AbnormalClosure, handshake.CloseInfo!.Code);
    }

    [Fact]
    public void AfterADropNothingIsSentAndTheFirstReasonStays()
    {
        var handshake = new ClosingHandshake();
        handshake.Dropped("Keepalive timeout.");
        handshake.Dropped("The connection was aborted.");
        Assert.Equal(new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "Keepalive timeout."), handshake.CloseInfo);
        Assert.Equal(CloseStep.None, handshake.Close(WebSocketCloseCode.NormalClosure, null));

        // A close frame or an error still in the input is not answered: the socket is gone.
        CloseStep late = Receive(handshake, Close(1000));
        Assert.False(late.SendCloseFrame);
        Assert.Equal(CloseFinish.Drop, late.Finish);

        // An oversized ping: a protocol error, but there is nobody left to tell.
        var another = new ClosingHandshake();
        another.Dropped("gone");
        CloseStep error = Receive(another, Frame(Opcode.Ping, new byte[126]));
        Assert.False(error.SendCloseFrame);
        Assert.Equal(CloseFinish.Drop, error.Finish);
        Assert.Equal("gone", another.CloseInfo!.Reason);
    }

    [Fact]
    public void DataStopsFlowingBothWaysOnlyOnceAClosingStepHappens()
    {
        var handshake = new ClosingHandshake();
        Assert.True(handshake.CanSend);
        Assert.True(handshake.DeliversMessages);
        Assert.Equal(WebSocketConnectionState.Open, handshake.State);
        Assert.Null(handshake.CloseInfo);
    }
}
