using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Tern.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Fuzzing;

/// <summary>A parser broke one of its invariants: a disagreement between runs, no progress, a result over a limit.</summary>
public sealed class InvariantException(string message) : Exception(message);

/// <summary>One decoder event, copied out of the decoder's buffer so runs can be compared.</summary>
public sealed record DecodedEvent(ProtocolEventType Type, WebSocketMessageKind Kind, byte[] Payload, WebSocketCloseCode Code, string Reason)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Type} {Kind} {Convert.ToHexString(Payload.Length > 64 ? Payload.AsSpan(0, 64) : Payload)}{(Payload.Length > 64 ? $"…({Payload.Length} bytes)" : "")} {(int)Code} {Reason}";

    /// <summary>Equal type, kind, payload bytes, close code and reason.</summary>
    public bool SameAs(DecodedEvent other) =>
        Type == other.Type && Kind == other.Kind && Payload.AsSpan().SequenceEqual(other.Payload) && Code == other.Code && Reason == other.Reason;
}

/// <summary>
/// Runs the sans-I/O parsers the way a connection's read loop does — pieces arrive one at a time and are appended to the
/// unconsumed bytes, kept as a multi-segment sequence — and checks the invariants every run must keep. Shared by the
/// property tests and the AFL harness in bench/Tern.Fuzz, which links this file.
/// </summary>
public static class Drivers
{
    /// <summary>Piece lengths covering <paramref name="length"/> bytes, in one of four styles: 1-byte pieces, one fixed size, small random sizes or large random sizes.</summary>
    public static List<int> ChopPlan(Random random, int length, int style)
    {
        var sizes = new List<int>();
        int fixedSize = random.Next(1, 64);
        for (int done = 0; done < length;)
        {
            int size = (style & 3) switch
            {
                0 => 1,
                1 => fixedSize,
                2 => random.Next(1, 5),
                _ => random.Next(1, 1 + Math.Max(1, length / 3)),
            };
            size = Math.Min(size, length - done);
            sizes.Add(size);
            done += size;
        }

        return sizes;
    }

    /// <summary>The data cut into pieces of the given sizes.</summary>
    public static List<ReadOnlyMemory<byte>> Pieces(ReadOnlyMemory<byte> data, IEnumerable<int> sizes)
    {
        var pieces = new List<ReadOnlyMemory<byte>>();
        int start = 0;
        foreach (int size in sizes)
        {
            pieces.Add(data.Slice(start, size));
            start += size;
        }

        return pieces;
    }

    /// <summary>
    /// Decodes the pieces in order with a fresh decoder and returns its events up to the first close or protocol error.
    /// Checks that every event consumes input, that NeedMoreData leaves at most a partial frame header behind, that no
    /// message is over <paramref name="maxMessageSize"/>, and that the decoder finishes only after a close or an error.
    /// </summary>
    /// <param name="pieces">The input, as it arrives.</param>
    /// <param name="server">Decode as a server (masked frames expected).</param>
    /// <param name="maxMessageSize">The decoder's limit.</param>
    /// <param name="streaming">
    /// Run the decoder in streaming mode and put each message's chunks back together into one Message event, so the
    /// result compares with a run in whole-message mode.
    /// </param>
    public static List<DecodedEvent> Decode(IEnumerable<ReadOnlyMemory<byte>> pieces, bool server, long maxMessageSize, bool streaming = false)
    {
        using var decoder = new WebSocketDecoder(server, maxMessageSize) { StreamMessages = streaming };
        var events = new List<DecodedEvent>();
        var streamed = new List<byte>();
        var pending = new List<ReadOnlyMemory<byte>>();
        foreach (ReadOnlyMemory<byte> piece in pieces)
        {
            pending.Add(piece);
            ReadOnlySequence<byte> input = Sequences.FromSegments([.. pending]);
            while (true)
            {
                long before = input.Length;
                ProtocolEvent e = decoder.Read(ref input);
                if (e.Type == ProtocolEventType.NeedMoreData)
                {
                    Expect(!decoder.IsFinished, "NeedMoreData from a finished decoder");
                    Expect(input.Length < FrameHeader.MaxLength, $"NeedMoreData with {input.Length} bytes left unread");
                    break;
                }

                Expect(input.Length < before, $"{e.Type} without consuming input");
                Expect(e.Type != ProtocolEventType.Message || e.Payload.Length <= maxMessageSize,
                    $"a message of {e.Payload.Length} bytes, over the limit of {maxMessageSize}");
                Expect(e.Type is not (ProtocolEventType.Ping or ProtocolEventType.Pong) || e.Payload.Length <= FrameHeader.MaxControlPayload,
                    "a control payload over 125 bytes");
                if (e.Type == ProtocolEventType.MessageData)
                {
                    Expect(streaming, "a chunk from a decoder that is not streaming");
                    Expect(e.Payload.Length <= WebSocketDecoder.StreamChunkSize, $"a chunk of {e.Payload.Length} bytes");
                    Expect(e.EndOfMessage || !e.Payload.IsEmpty, "an empty chunk before the end of its message");
                    streamed.AddRange(e.Payload.Span);
                    Expect(streamed.Count <= maxMessageSize, $"{streamed.Count} bytes streamed, over the limit of {maxMessageSize}");
                    if (!e.EndOfMessage)
                    {
                        continue;
                    }

                    events.Add(new DecodedEvent(ProtocolEventType.Message, e.MessageKind, [.. streamed], e.CloseCode, e.Reason));
                    streamed.Clear();
                    continue;
                }

                Expect(!streaming || e.Type != ProtocolEventType.Message, "a whole message from a streaming decoder");
                events.Add(new DecodedEvent(e.Type, e.MessageKind, e.Payload.ToArray(), e.CloseCode, e.Reason));
                if (e.Type == ProtocolEventType.Close)
                {
                    // What the server does next: echo the code and the reason.
                    CloseFrame.WritePayload(new byte[FrameHeader.MaxControlPayload],
                        e.CloseCode == WebSocketCloseCode.NoStatusReceived ? WebSocketCloseCode.NormalClosure : e.CloseCode, e.Reason);
                }

                if (e.Type is ProtocolEventType.Close or ProtocolEventType.ProtocolError)
                {
                    Expect(decoder.IsFinished, $"{e.Type} but the decoder is not finished");
                    return events;
                }

                Expect(!decoder.IsFinished, $"finished after {e.Type}");
            }

            pending = [.. input];
        }

        return events;
    }

    /// <summary>Describes a decode for failure messages.</summary>
    public static string Describe(IEnumerable<DecodedEvent> events) => string.Join("\n  ", events);

    /// <summary>True when both runs produced the same events.</summary>
    public static bool Same(IReadOnlyList<DecodedEvent> a, IReadOnlyList<DecodedEvent> b) =>
        a.Count == b.Count && a.Zip(b).All(pair => pair.First.SameAs(pair.Second));

    /// <summary>
    /// Parses pipelined request heads (at most <paramref name="maxHeads"/>) from the pieces with one parser, as a
    /// server's read loop would, and describes each outcome as text (method, target, version, fields, bytes used, the
    /// handshake verdict; or the refusal). Checks that NeedMoreData never comes with a full head's worth of bytes and
    /// that a complete head is within the limit.
    /// </summary>
    public static List<string> ParseHeads(IEnumerable<ReadOnlyMemory<byte>> pieces, int maxHeadBytes, int maxHeaderCount, int maxHeads = 4)
    {
        var parser = new HttpRequestParser(maxHeadBytes, maxHeaderCount);
        var outcomes = new List<string>();
        var pending = new List<ReadOnlyMemory<byte>>();
        foreach (ReadOnlyMemory<byte> piece in pieces)
        {
            pending.Add(piece);
            if (pending.Count > 8)
            {
                // A head fed byte by byte would otherwise cost quadratic time in segments; merging the older pieces
                // keeps the sequence multi-segment, with the newest boundaries where they fell.
                byte[] older = Sequences.FromSegments([.. pending[..^4]]).ToArray();
                pending = [older, .. pending[^4..]];
            }

            while (true)
            {
                ReadOnlySequence<byte> buffer = Sequences.FromSegments([.. pending]);
                HttpParseStatus status = parser.TryParse(buffer, out SequencePosition consumed, out HttpRequestHead? request, out HandshakeRefusal? refusal);
                long used = buffer.Slice(0, consumed).Length;
                if (status == HttpParseStatus.NeedMoreData)
                {
                    Expect(buffer.Length < maxHeadBytes, $"NeedMoreData with {buffer.Length} bytes buffered, at or over the {maxHeadBytes}-byte limit");
                    Expect(request is null && refusal is null && used == 0, "NeedMoreData with a result or consumed bytes");
                    break;
                }

                if (status == HttpParseStatus.Invalid)
                {
                    Expect(refusal is not null && request is null && used == 0, "Invalid without a refusal, or with consumed bytes");
                    Expect(refusal!.StatusCode is 400 or 414 or 431 or 501 or 505, $"refused with {refusal.StatusCode}");
                    outcomes.Add($"refused {refusal.StatusCode} {refusal.Reason}");
                    return outcomes;
                }

                Expect(status == HttpParseStatus.Complete && request is not null && refusal is null, $"unexpected status {status}");
                Expect(used is > 0 && used <= maxHeadBytes, $"a complete head of {used} bytes");
                Expect(request!.Headers.Count <= maxHeaderCount, $"{request.Headers.Count} header fields, over the limit of {maxHeaderCount}");
                outcomes.Add($"{DescribeRequest(request)} ({used} bytes)");
                pending = [.. buffer.Slice(consumed)];
                if (outcomes.Count == maxHeads)
                {
                    return outcomes;
                }
            }
        }

        return outcomes;
    }

    private static string DescribeRequest(HttpRequestHead request)
    {
        HandshakeRefusal? verdict = Handshake.Validate(request);
        if (verdict is null)
        {
            // A valid handshake: the rest of the server's path must not throw either.
            _ = Handshake.GetOfferedSubprotocols(request);
            _ = Handshake.ComputeAccept(request.Headers["Sec-WebSocket-Key"]!);
        }

        var text = new StringBuilder($"{request.Method} {request.Target} {request.Version} upgrade={Handshake.IsUpgradeRequest(request)} validate={verdict?.StatusCode ?? 101}");
        foreach (KeyValuePair<string, string> field in request.Headers)
        {
            text.Append($" [{field.Key}: {field.Value}]");
        }

        return text.ToString();
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Whether the strict framework decoder accepts <paramref name="data"/> as complete UTF-8.</summary>
    public static bool StrictDecoderAccepts(ReadOnlySpan<byte> data)
    {
        try
        {
            Strict.GetCharCount(data);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>
    /// The index of the first byte after which no continuation can make the text valid UTF-8 (-1 if there is none),
    /// found with the framework's transcoder: a prefix is still possible when it transcodes or only needs more data.
    /// Possibility is monotone (a bad prefix stays bad), so a binary search finds the boundary.
    /// </summary>
    public static int FirstImpossibleByte(ReadOnlySpan<byte> data)
    {
        if (IsPossiblePrefix(data))
        {
            return -1;
        }

        int good = 0, bad = data.Length;
        while (bad - good > 1)
        {
            int middle = (good + bad) / 2;
            if (IsPossiblePrefix(data[..middle]))
            {
                good = middle;
            }
            else
            {
                bad = middle;
            }
        }

        return bad - 1;
    }

    private static bool IsPossiblePrefix(ReadOnlySpan<byte> prefix)
    {
        char[] chars = ArrayPool<char>.Shared.Rent(Math.Max(1, prefix.Length));
        try
        {
            OperationStatus status = Utf8.ToUtf16(prefix, chars, out _, out _, replaceInvalidSequences: false, isFinalBlock: false);
            return status is OperationStatus.Done or OperationStatus.NeedMoreData;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }

    /// <summary>
    /// Feeds <see cref="Utf8Validator"/> the pieces and checks it against the oracles: the first call to return false is
    /// the one holding the first impossible byte, a failure sticks, and at the end <see cref="Utf8Validator.IsComplete"/>
    /// agrees with the strict decoder. Returns the validator's verdict.
    /// </summary>
    public static bool CheckUtf8Validator(ReadOnlySpan<byte> data, IEnumerable<int> sizes)
    {
        bool valid = StrictDecoderAccepts(data);
        int failAt = FirstImpossibleByte(data);
        Expect(valid == (failAt < 0 && Utf8.IsValid(data)), "the oracles disagree");
        var validator = default(Utf8Validator);
        int start = 0;
        foreach (int size in sizes)
        {
            bool ok = validator.TryValidate(data.Slice(start, size));
            bool holdsFailure = failAt >= start && failAt < start + size;
            Expect(ok != holdsFailure, $"TryValidate returned {ok} for bytes {start}..{start + size - 1} but the first impossible byte is at {failAt}: {Convert.ToHexString(data)}");
            if (!ok)
            {
                Expect(!validator.TryValidate([]) && !validator.TryValidate("a"u8) && !validator.IsComplete, "the validator forgot a failure");
                return false;
            }

            start += size;
        }

        Expect(start == data.Length, "the pieces do not cover the data");
        Expect(validator.IsComplete == valid, $"IsComplete is {validator.IsComplete}, the strict decoder says {valid}: {Convert.ToHexString(data)}");
        return valid;
    }

    /// <summary>Throws <see cref="InvariantException"/> when <paramref name="condition"/> is false.</summary>
    public static void Expect(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvariantException(message);
        }
    }
}
