using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Tern.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Fuzz;

/// <summary>
/// The fuzz targets. The first input byte picks the configuration and how the rest is chopped; the rest is fed to the
/// parser whole and chopped. The parsers report bad input through their results, never by throwing, so nothing is
/// caught here: any exception, or a broken invariant (a chopped run that disagrees with the whole one, no progress, a
/// payload over the limit), is a crash for AFL.
/// </summary>
internal static class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["http"] = Http,
        ["frames"] = Frames,
        ["utf8"] = Utf8Target,
    };

    // Small limits, so AFL's short inputs reach the limit paths too.
    private const int MaxHeadBytes = 1024;
    private const int MaxHeaderCount = 16;

    private static readonly long[] MessageLimits = [0, 1, 125, 126, 1000, 65_536, 1 << 20, long.MaxValue];

    private static void Http(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        ReadOnlyMemory<byte> data = input.AsMemory(1);
        List<string> whole = ParseHeads([data]);
        List<string> chopped = ParseHeads(Pieces(data, Chops.Plan(input[0], data.Length)));
        Expect(whole.SequenceEqual(chopped), $"HTTP chopped run differs:\n whole:   {string.Join(" | ", whole)}\n chopped: {string.Join(" | ", chopped)}");
    }

    /// <summary>
    /// Parses pipelined heads as a server's read loop would: the pieces arrive one by one and are appended to the
    /// unconsumed buffer; each outcome is described as text so runs can be compared.
    /// </summary>
    private static List<string> ParseHeads(List<ReadOnlyMemory<byte>> pieces)
    {
        var parser = new HttpRequestParser(MaxHeadBytes, MaxHeaderCount);
        var outcomes = new List<string>();
        var pending = new List<ReadOnlyMemory<byte>>();
        foreach (ReadOnlyMemory<byte> piece in pieces)
        {
            pending.Add(piece);
            while (true)
            {
                ReadOnlySequence<byte> buffer = Sequences.FromSegments([.. pending]);
                HttpParseStatus status = parser.TryParse(buffer, out SequencePosition consumed, out HttpRequestHead? request, out HandshakeRefusal? refusal);
                if (status == HttpParseStatus.NeedMoreData)
                {
                    Expect(buffer.Length < MaxHeadBytes, $"NeedMoreData with {buffer.Length} bytes buffered, over the {MaxHeadBytes}-byte limit");
                    Expect(request is null && refusal is null, "NeedMoreData with a result");
                    break;
                }

                if (status == HttpParseStatus.Invalid)
                {
                    Expect(refusal is not null && request is null, "Invalid without a refusal");
                    outcomes.Add($"refused {refusal!.StatusCode} {refusal.Reason}");
                    return outcomes;
                }

                Expect(status == HttpParseStatus.Complete && request is not null && refusal is null, $"unexpected status {status}");
                long used = buffer.Slice(0, consumed).Length;
                Expect(used is > 0 and <= MaxHeadBytes, $"a complete head of {used} bytes");
                outcomes.Add($"{Describe(request!)} ({used} bytes)");
                pending = [.. buffer.Slice(consumed)];
                if (outcomes.Count == 4)
                {
                    return outcomes;
                }
            }
        }

        return outcomes;
    }

    private static string Describe(HttpRequestHead request)
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

    private static void Frames(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        // Seed bits: 0-1 chop style (see Chops.Plan), 2 masked or not, 3-5 the message limit.
        bool server = (input[0] & 0x4) == 0;
        long limit = MessageLimits[(input[0] >> 3) & 0x7];
        ReadOnlyMemory<byte> data = input.AsMemory(1);
        List<string> whole = Decode([data], server, limit);
        List<string> chopped = Decode(Pieces(data, Chops.Plan(input[0], data.Length)), server, limit);
        Expect(whole.SequenceEqual(chopped), $"frames chopped run differs:\n whole:   {string.Join(" | ", whole)}\n chopped: {string.Join(" | ", chopped)}");

        // The header reader on its own, at every offset of the input.
        for (int offset = 0; offset < data.Length; offset++)
        {
            if (FrameHeader.TryRead(new ReadOnlySequence<byte>(data[offset..]), out FrameHeader header, out int length, out bool invalid))
            {
                Expect(length is >= 2 and <= FrameHeader.MaxLength && (invalid || header.PayloadLength >= 0), "a header of impossible length");
            }
        }
    }

    private static List<string> Decode(List<ReadOnlyMemory<byte>> pieces, bool server, long limit)
    {
        using var decoder = new WebSocketDecoder(server, limit);
        var events = new List<string>();
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
                    // Only an incomplete frame header may be left behind; payload bytes are always taken.
                    Expect(input.Length < FrameHeader.MaxLength, $"NeedMoreData with {input.Length} bytes left");
                    break;
                }

                Expect(input.Length < before, $"{e.Type} without consuming input");
                Expect(e.Type != ProtocolEventType.Message || e.Payload.Length <= limit, $"a message of {e.Payload.Length} bytes over the limit {limit}");
                events.Add($"{e.Type} {e.MessageKind} {Convert.ToHexString(e.Payload.Span)} {(int)e.CloseCode} {e.Reason}");
                if (e.Type == ProtocolEventType.Close)
                {
                    // What the server does next: echo the code and reason.
                    CloseFrame.WritePayload(new byte[FrameHeader.MaxControlPayload], e.CloseCode == WebSocketCloseCode.NoStatusReceived ? WebSocketCloseCode.NormalClosure : e.CloseCode, e.Reason);
                }

                if (decoder.IsFinished)
                {
                    Expect(e.Type is ProtocolEventType.Close or ProtocolEventType.ProtocolError, $"finished after {e.Type}");
                    return events;
                }
            }

            pending = [.. input];
        }

        return events;
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static void Utf8Target(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        ReadOnlySpan<byte> data = input.AsSpan(1);
        bool valid;
        try
        {
            Strict.GetCharCount(data);
            valid = true;
        }
        catch (DecoderFallbackException)
        {
            valid = false;
        }

        int failAt = FirstImpossibleByte(data);
        Expect(valid == (failAt < 0 && Utf8.IsValid(data)), "the oracles disagree");

        CheckValidator(data, [data.Length], valid, failAt);
        CheckValidator(data, Chops.Plan(input[0], data.Length), valid, failAt);
    }

    /// <summary>
    /// Feeds the pieces; the call that first returns false must be the one holding the first byte after which no
    /// continuation can make the text valid, and the verdict at the end must match the strict decoder's.
    /// </summary>
    private static void CheckValidator(ReadOnlySpan<byte> data, List<int> sizes, bool valid, int failAt)
    {
        var validator = default(Utf8Validator);
        int start = 0;
        foreach (int size in sizes)
        {
            bool ok = validator.TryValidate(data.Slice(start, size));
            bool holdsFailure = failAt >= start && failAt < start + size;
            Expect(ok != holdsFailure, $"TryValidate returned {ok} for bytes {start}..{start + size} but the first impossible byte is at {failAt}");
            if (!ok)
            {
                Expect(!validator.TryValidate([]) && !validator.IsComplete, "the validator forgot a failure");
                Expect(!valid, "rejected valid UTF-8");
                return;
            }

            start += size;
        }

        Expect(validator.IsComplete == valid, $"IsComplete is {validator.IsComplete}, the strict decoder says {valid}");
    }

    /// <summary>
    /// The index of the first byte at which the text stops being a prefix of any valid UTF-8 (-1 if it never does),
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

    private static List<ReadOnlyMemory<byte>> Pieces(ReadOnlyMemory<byte> data, List<int> sizes)
    {
        var pieces = new List<ReadOnlyMemory<byte>>(sizes.Count);
        int start = 0;
        foreach (int size in sizes)
        {
            pieces.Add(data.Slice(start, size));
            start += size;
        }

        return pieces;
    }

    private static void Expect(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvariantException(message);
        }
    }
}
