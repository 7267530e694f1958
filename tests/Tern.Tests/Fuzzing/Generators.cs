using System.Buffers.Binary;
using System.Text;
using Tern.Protocol;

namespace Tern.Tests.Fuzzing;

/// <summary>A message or control frame a generated stream carries, and the event the decoder must report for it.</summary>
internal sealed record Sent(ProtocolEventType Type, WebSocketMessageKind Kind, byte[] Payload, WebSocketCloseCode Code = default, string Reason = "");

/// <summary>A generated frame stream: the bytes, where each frame starts, and what it carries.</summary>
internal sealed record FrameStream(byte[] Wire, List<int> FrameStarts, List<Sent> Expected);

/// <summary>Random inputs for the protocol parsers: valid ones built from parts, and mutations of them.</summary>
internal static class Generators
{
    // Lengths at the edges of the three length forms get extra weight.
    private static readonly int[] EdgeLengths = [0, 1, 2, 125, 126, 127, 65_535, 65_536];

    public static byte[] Bytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    public static int PayloadLength(Random random, int max) => random.Next(10) switch
    {
        0 => Math.Min(max, EdgeLengths[random.Next(EdgeLengths.Length)]),
        < 4 => random.Next(Math.Min(max, 8) + 1),
        _ => random.Next(Math.Min(max, 400) + 1),
    };

    /// <summary>Text mixing 1- to 4-byte UTF-8 sequences, including the edges of each range and non-characters.</summary>
    public static string Text(Random random, int maxChars)
    {
        var text = new StringBuilder();
        int count = random.Next(maxChars + 1);
        for (int i = 0; i < count; i++)
        {
            int scalar = random.Next(8) switch
            {
                0 => random.Next(0x80, 0x800),
                1 => random.Next(0x800, 0xD800),
                2 => random.Next(0xE000, 0x10000),
                3 => random.Next(0x10000, 0x110000),
                4 => new[] { 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF }[random.Next(11)],
                _ => random.Next(0x20, 0x7F),
            };
            text.Append(char.ConvertFromUtf32(scalar));
        }

        return text.ToString();
    }

    public static byte[] Frame(Random random, Opcode opcode, ReadOnlySpan<byte> payload, bool fin, bool masked)
    {
        uint key = (uint)random.NextInt64(0, 1L << 32);
        var frame = new byte[FrameHeader.GetLength(payload.Length, masked) + payload.Length];
        int header = FrameHeader.Write(frame, opcode, fin, payload.Length, masked, key);
        payload.CopyTo(frame.AsSpan(header));
        if (masked)
        {
            Masking.Apply(frame.AsSpan(header), key, 0);
        }

        return frame;
    }

    /// <summary>
    /// A valid stream: text and binary messages, some fragmented (text cut anywhere, even inside a character), with
    /// pings and pongs between the fragments, every frame masked with its own key when <paramref name="masked"/>; it
    /// may end with a close frame.
    /// </summary>
    public static FrameStream ValidStream(Random random, bool masked, int maxMessageLength = 2000)
    {
        var wire = new List<byte>();
        var starts = new List<int>();
        var expected = new List<Sent>();

        void Add(byte[] frame)
        {
            starts.Add(wire.Count);
            wire.AddRange(frame);
        }

        void MaybeControl()
        {
            while (random.Next(4) == 0)
            {
                bool ping = random.Next(2) == 0;
                byte[] payload = Bytes(random, PayloadLength(random, FrameHeader.MaxControlPayload));
                Add(Frame(random, ping ? Opcode.Ping : Opcode.Pong, payload, fin: true, masked));
                expected.Add(new Sent(ping ? ProtocolEventType.Ping : ProtocolEventType.Pong, default, payload));
            }
        }

        int messages = random.Next(7);
        for (int m = 0; m < messages; m++)
        {
            MaybeControl();
            bool text = random.Next(2) == 0;
            byte[] payload = text
                ? Encoding.UTF8.GetBytes(Text(random, random.Next(2) == 0 ? 20 : maxMessageLength / 4))
                : Bytes(random, PayloadLength(random, maxMessageLength));
            if (payload.Length > maxMessageLength)
            {
                payload = Bytes(random, maxMessageLength);
                text = false;
            }

            int fragments = random.Next(3) == 0 ? 1 : random.Next(1, 6);
            var cuts = Enumerable.Range(0, fragments - 1).Select(_ => random.Next(payload.Length + 1)).Order().ToList();
            int start = 0;
            for (int f = 0; f < fragments; f++)
            {
                int end = f < cuts.Count ? cuts[f] : payload.Length;
                Opcode opcode = f > 0 ? Opcode.Continuation : text ? Opcode.Text : Opcode.Binary;
                Add(Frame(random, opcode, payload.AsSpan(start, end - start), fin: f == fragments - 1, masked));
                start = end;
                if (f < fragments - 1)
                {
                    MaybeControl();
                }
            }

            expected.Add(new Sent(ProtocolEventType.Message, text ? WebSocketMessageKind.Text : WebSocketMessageKind.Binary, payload));
        }

        MaybeControl();
        if (random.Next(3) == 0)
        {
            if (random.Next(4) == 0)
            {
                Add(Frame(random, Opcode.Close, [], fin: true, masked));
                expected.Add(new Sent(ProtocolEventType.Close, default, [], WebSocketCloseCode.NoStatusReceived));
            }
            else
            {
                int[] codes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999];
                int code = codes[random.Next(codes.Length)];
                string reason = Text(random, 10);
                while (Encoding.UTF8.GetByteCount(reason) > CloseFrame.MaxReasonBytes)
                {
                    reason = reason[..^1];
                }

                var payload = new byte[FrameHeader.MaxControlPayload];
                int length = CloseFrame.WritePayload(payload, (WebSocketCloseCode)code, reason);
                reason = Encoding.UTF8.GetString(payload, 2, length - 2);
                Add(Frame(random, Opcode.Close, payload.AsSpan(0, length), fin: true, masked));
                expected.Add(new Sent(ProtocolEventType.Close, default, [], (WebSocketCloseCode)code, reason));
            }
        }

        return new FrameStream([.. wire], starts, expected);
    }

    /// <summary>
    /// One to three mutations of a frame stream: generic byte edits, or edits aimed at a frame header (opcode, RSV
    /// bits, FIN, mask bit, the 7-bit length, a 64-bit length with huge or top-bit values, a 16-bit length).
    /// </summary>
    public static byte[] MutateFrames(Random random, FrameStream stream)
    {
        var bytes = new List<byte>(stream.Wire);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            int frame = stream.FrameStarts.Count == 0 ? 0 : stream.FrameStarts[random.Next(stream.FrameStarts.Count)];
            if (frame + 1 >= bytes.Count || random.Next(3) == 0)
            {
                MutateBytes(random, bytes);
                continue;
            }

            switch (random.Next(8))
            {
                case 0:
                    bytes[frame] = (byte)((bytes[frame] & 0xF0) | random.Next(16));
                    break;
                case 1:
                    bytes[frame] ^= (byte)(random.Next(1, 8) << 4);
                    break;
                case 2:
                    bytes[frame] ^= 0x80;
                    break;
                case 3:
                    bytes[frame + 1] ^= 0x80;
                    break;
                case 4:
                    bytes[frame + 1] = (byte)((bytes[frame + 1] & 0x80) | random.Next(128));
                    break;
                case 5:
                {
                    // A 64-bit length: huge, with the top bit set, or just past a limit.
                    ulong length = random.Next(4) switch
                    {
                        0 => ulong.MaxValue,
                        1 => 1UL << 63 | (ulong)random.NextInt64(),
                        2 => (ulong)random.NextInt64(),
                        _ => (ulong)random.Next(0, 70_000),
                    };
                    var extended = new byte[8];
                    BinaryPrimitives.WriteUInt64BigEndian(extended, length);
                    bytes[frame + 1] = (byte)((bytes[frame + 1] & 0x80) | 127);
                    bytes.InsertRange(frame + 2, extended);
                    break;
                }

                case 6:
                {
                    var extended = new byte[2];
                    BinaryPrimitives.WriteUInt16BigEndian(extended, (ushort)random.Next(0, 65_536));
                    bytes[frame + 1] = (byte)((bytes[frame + 1] & 0x80) | 126);
                    bytes.InsertRange(frame + 2, extended);
                    break;
                }

                default:
                    // Cut the stream inside or right after this frame's header.
                    bytes.RemoveRange(frame + 1, bytes.Count - frame - 1);
                    bytes.AddRange(Bytes(random, random.Next(16)));
                    break;
            }
        }

        return [.. bytes];
    }

    /// <summary>A generic edit: a bit flip, a random byte, an insertion, a deletion, a duplicated range, or an interesting byte.</summary>
    public static void MutateBytes(Random random, List<byte> bytes)
    {
        int position = random.Next(bytes.Count + 1);
        int rest = bytes.Count - position;
        switch (random.Next(6))
        {
            case 0 when rest > 0:
                bytes[position] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when rest > 0:
                bytes[position] = (byte)random.Next(256);
                break;
            case 2:
                bytes.InsertRange(position, Bytes(random, random.Next(1, 9)));
                break;
            case 3 when rest > 0:
                bytes.RemoveRange(position, random.Next(1, Math.Min(rest, 16) + 1));
                break;
            case 4 when rest > 0:
                bytes.InsertRange(position, bytes.GetRange(position, random.Next(1, Math.Min(rest, 32) + 1)));
                break;
            default:
                byte[] interesting = [0x00, 0x0D, 0x0A, 0x20, 0x3A, 0x7F, 0x80, 0xBF, 0xC0, 0xED, 0xF4, 0xFF];
                bytes.Insert(position, interesting[random.Next(interesting.Length)]);
                break;
        }
    }

    private static readonly string[] Methods = ["GET", "GET", "GET", "HEAD", "POST", "OPTIONS", "CONNECT", "get", "PATCH"];

    private static readonly string[] Targets = ["/", "/chat", "/chat?room=a&x=%20", "http://h.example/ws", "*", "/a/b/c.html", "ws://h/x"];

    /// <summary>A valid WebSocket upgrade request with the fields in random order, random case and whitespace, and a few extra fields.</summary>
    public static (string Head, List<KeyValuePair<string, string>> Fields) UpgradeRequest(Random random)
    {
        var key = Convert.ToBase64String(Bytes(random, 16));
        var fields = new List<KeyValuePair<string, string>>
        {
            new(Case(random, "Host"), "server.example.com"),
            new(Case(random, "Upgrade"), random.Next(2) == 0 ? "websocket" : "WebSocket"),
            new(Case(random, "Connection"), random.Next(2) == 0 ? "Upgrade" : "keep-alive, Upgrade"),
            new(Case(random, "Sec-WebSocket-Key"), key),
            new(Case(random, "Sec-WebSocket-Version"), "13"),
        };
        int extras = random.Next(5);
        for (int i = 0; i < extras; i++)
        {
            string[] names = ["Origin", "Sec-WebSocket-Protocol", "User-Agent", "Cookie", "X-Custom-" + random.Next(100), "Accept-Encoding"];
            fields.Add(new(names[random.Next(names.Length)], FieldValue(random)));
        }

        fields = [.. fields.OrderBy(_ => random.Next())];
        var head = new StringBuilder($"GET {Targets[random.Next(4)]} HTTP/1.1\r\n");
        foreach ((string name, string value) in fields)
        {
            string before = random.Next(3) == 0 ? "" : random.Next(2) == 0 ? " " : " \t ";
            string after = random.Next(3) == 0 ? " " : "";
            head.Append($"{name}:{before}{value}{after}\r\n");
        }

        head.Append("\r\n");
        return (head.ToString(), fields);
    }

    private static string Case(Random random, string name) => random.Next(4) switch
    {
        0 => name.ToLowerInvariant(),
        1 => name.ToUpperInvariant(),
        _ => name,
    };

    private static string FieldValue(Random random)
    {
        const string Visible = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,;=/ \"()";
        int length = random.Next(1, 40);
        var value = new char[length];
        for (int i = 0; i < length; i++)
        {
            value[i] = Visible[random.Next(Visible.Length)];
        }

        return new string(value).Trim();
    }

    /// <summary>
    /// One to three edits to an HTTP head: generic byte edits, CRLF turned into LF or CR, NUL/high/control bytes, a
    /// header flood, a very long line, a truncation, a different method or target, or pipelined garbage after the head.
    /// </summary>
    public static byte[] MutateHttp(Random random, string head)
    {
        var bytes = new List<byte>(Encoding.Latin1.GetBytes(head));
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            switch (random.Next(9))
            {
                case 0:
                case 1:
                    MutateBytes(random, bytes);
                    break;
                case 2:
                {
                    int crlf = IndexOfCrlf(bytes, random.Next(bytes.Count));
                    if (crlf >= 0)
                    {
                        bytes.RemoveAt(random.Next(2) == 0 ? crlf : crlf + 1);
                    }

                    break;
                }

                case 3:
                {
                    byte[] odd = [0x00, 0x01, 0x0D, 0x0A, 0x7F, 0x80, 0xA0, 0xFF, 0x09, 0x20];
                    bytes.Insert(random.Next(bytes.Count + 1), odd[random.Next(odd.Length)]);
                    break;
                }

                case 4:
                {
                    // A header flood: many short fields before the blank line.
                    int count = random.Next(1, 200);
                    var flood = new StringBuilder();
                    for (int i = 0; i < count; i++)
                    {
                        flood.Append($"X-{i}: {i}\r\n");
                    }

                    InsertBeforeEnd(bytes, Encoding.Latin1.GetBytes(flood.ToString()));
                    break;
                }

                case 5:
                {
                    // A long line: a value or a target thousands of bytes long.
                    string filler = new(random.Next(2) == 0 ? 'a' : '/', random.Next(100, 12_000));
                    InsertBeforeEnd(bytes, Encoding.Latin1.GetBytes($"X-Long: {filler}\r\n"));
                    break;
                }

                case 6:
                {
                    int cut = random.Next(bytes.Count + 1);
                    bytes.RemoveRange(cut, bytes.Count - cut);
                    break;
                }

                case 7:
                {
                    int space = bytes.IndexOf((byte)' ');
                    if (space > 0)
                    {
                        bytes.RemoveRange(0, space);
                        string method = Methods[random.Next(Methods.Length)];
                        string target = Targets[random.Next(Targets.Length)];
                        bytes.InsertRange(0, Encoding.Latin1.GetBytes(random.Next(2) == 0 ? method : $"{method} {target}"));
                    }

                    break;
                }

                default:
                    bytes.AddRange(Bytes(random, random.Next(1, 40)));
                    break;
            }
        }

        return [.. bytes];
    }

    private static int IndexOfCrlf(List<byte> bytes, int from)
    {
        for (int i = Math.Max(0, from); i + 1 < bytes.Count; i++)
        {
            if (bytes[i] == '\r' && bytes[i + 1] == '\n')
            {
                return i;
            }
        }

        return -1;
    }

    private static void InsertBeforeEnd(List<byte> bytes, byte[] insert)
    {
        // Just before the final blank line when there is one, so the inserted lines are inside the head.
        int position = bytes.Count >= 2 && bytes[^1] == '\n' && bytes[^2] == '\r' ? bytes.Count - 2 : bytes.Count;
        bytes.InsertRange(position, insert);
    }
}
