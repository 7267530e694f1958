using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Tern.Tests.Conformance;

/// <summary>One element of a Sec-WebSocket-Extensions value: an extension name and its parameters, in order.</summary>
internal sealed record ExtensionElement(string Name, IReadOnlyList<KeyValuePair<string, string?>> Parameters)
{
    public override string ToString() =>
        Name + string.Concat(Parameters.Select(p => p.Value is null ? $"; {p.Key}" : $"; {p.Key}={p.Value}"));

    /// <summary>
    /// Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1: comma-separated extensions, each a token followed by
    /// ";"-separated parameters, whose values are tokens or quoted strings); null when it does not follow that grammar.
    /// </summary>
    public static List<ExtensionElement>? ParseList(string value)
    {
        var elements = new List<ExtensionElement>();
        var reader = new HeaderReader(value);
        do
        {
            reader.SkipSpaces();
            string? name = reader.Token();
            if (name is null)
            {
                return null;
            }

            var parameters = new List<KeyValuePair<string, string?>>();
            reader.SkipSpaces();
            while (reader.Take(';'))
            {
                reader.SkipSpaces();
                string? key = reader.Token();
                if (key is null)
                {
                    return null;
                }

                string? parameterValue = null;
                reader.SkipSpaces();
                if (reader.Take('='))
                {
                    reader.SkipSpaces();
                    parameterValue = reader.TokenOrQuoted();
                    if (parameterValue is null)
                    {
                        return null;
                    }
                }

                parameters.Add(new(key, parameterValue));
                reader.SkipSpaces();
            }

            elements.Add(new ExtensionElement(name, parameters));
        }
        while (reader.Take(','));

        return reader.AtEnd ? elements : null;
    }

    private ref struct HeaderReader(string text)
    {
        private int _position;

        public readonly bool AtEnd => _position == text.Length;

        public void SkipSpaces()
        {
            while (_position < text.Length && text[_position] is ' ' or '\t')
            {
                _position++;
            }
        }

        public bool Take(char c)
        {
            if (_position < text.Length && text[_position] == c)
            {
                _position++;
                return true;
            }

            return false;
        }

        public string? Token()
        {
            int start = _position;
            while (_position < text.Length && IsTokenChar(text[_position]))
            {
                _position++;
            }

            return _position > start ? text[start.._position] : null;
        }

        public string? TokenOrQuoted()
        {
            if (!Take('"'))
            {
                return Token();
            }

            var value = new StringBuilder();
            while (_position < text.Length)
            {
                char c = text[_position++];
                if (c == '"')
                {
                    return value.ToString();
                }

                if (c == '\\' && _position < text.Length)
                {
                    c = text[_position++];
                }

                value.Append(c);
            }

            return null;
        }

        private static bool IsTokenChar(char c) =>
            c is > ' ' and < '\x7F' && !"()<>@,;:\\\"/[]?={}".Contains(c, StringComparison.Ordinal);
    }
}

/// <summary>The permessage-deflate parameters of one offer or response element (RFC 7692 §7.1).</summary>
/// <param name="ClientMaxWindowBits">null: absent; 0: present without a value (only legal in an offer); else 8–15.</param>
internal sealed record DeflateParameters(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int? ServerMaxWindowBits, int? ClientMaxWindowBits)
{
    public const string ExtensionName = "permessage-deflate";

    /// <summary>
    /// Reads an element as RFC 7692 §7 defines the parameters, returning null and why when it is not a valid
    /// permessage-deflate element: another extension, an unknown or repeated parameter, a value where none is allowed or
    /// none where one is required, or a window size outside 8–15 (written as 1*DIGIT without leading zeros, §7.1.2.1).
    /// </summary>
    public static DeflateParameters? From(ExtensionElement element, bool isOffer, out string why)
    {
        why = "";
        if (!element.Name.Equals(ExtensionName, StringComparison.OrdinalIgnoreCase))
        {
            why = $"it is not {ExtensionName}";
            return null;
        }

        string[] repeated = element.Parameters.GroupBy(p => p.Key.ToLowerInvariant()).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (repeated.Length > 0)
        {
            why = $"{repeated[0]} appears twice (§7)";
            return null;
        }

        bool serverNoTakeover = false, clientNoTakeover = false;
        int? serverBits = null, clientBits = null;
        foreach ((string key, string? value) in element.Parameters)
        {
            switch (key.ToLowerInvariant())
            {
                case "server_no_context_takeover" or "client_no_context_takeover" when value is not null:
                    why = $"{key} has a value (§7.1.1)";
                    return null;
                case "server_no_context_takeover":
                    serverNoTakeover = true;
                    break;
                case "client_no_context_takeover":
                    clientNoTakeover = true;
                    break;
                case "server_max_window_bits":
                    serverBits = WindowBits(value);
                    if (serverBits is null)
                    {
                        why = $"server_max_window_bits={value ?? "(no value)"} is not 8–15 (§7.1.2.1)";
                        return null;
                    }

                    break;
                case "client_max_window_bits" when value is null && isOffer:
                    clientBits = 0;
                    break;
                case "client_max_window_bits":
                    clientBits = WindowBits(value);
                    if (clientBits is null)
                    {
                        why = $"client_max_window_bits={value ?? "(no value)"} is not 8–15 (§7.1.2.2)";
                        return null;
                    }

                    break;
                default:
                    why = $"{key} is not a permessage-deflate parameter (§7)";
                    return null;
            }
        }

        return new DeflateParameters(serverNoTakeover, clientNoTakeover, serverBits, clientBits);
    }

    private static int? WindowBits(string? value) =>
        value is not null && value.Length is 1 or 2 && value[0] != '0' && value.All(char.IsAsciiDigit)
            && int.Parse(value, CultureInfo.InvariantCulture) is >= 8 and <= 15 and int bits ? bits : null;
}

/// <summary>What a connection agreed on, for both directions.</summary>
internal sealed record DeflateAgreement(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int ServerMaxWindowBits, int ClientMaxWindowBits)
{
    /// <summary>The negotiated Sec-WebSocket-Extensions value, as the server sent it.</summary>
    public string Response { get; init; } = "";

    /// <summary>The offer the server accepted.</summary>
    public required DeflateParameters Offer { get; init; }
}

/// <summary>Checks the server's answer to a list of permessage-deflate offers against RFC 7692.</summary>
internal static class DeflateNegotiation
{
    /// <summary>
    /// The agreement when the server accepted, null when it declined. Fails the test unless the response is a legal
    /// acceptance (RFC 7692 §7.1) of the first valid permessage-deflate offer: Tern walks the offers in order and can
    /// honour every valid one (server_max_window_bits=8 included), so it must neither decline nor skip one; and when no
    /// offer is valid the server must decline, i.e. send no Sec-WebSocket-Extensions at all.
    /// </summary>
    public static DeflateAgreement? AssertLegalResponse(IReadOnlyList<string> offerLines, string? response)
    {
        var offers = new List<ExtensionElement>();
        foreach (string line in offerLines)
        {
            offers.AddRange(ExtensionElement.ParseList(line) ?? throw new ArgumentException($"The test's own offer \"{line}\" is malformed."));
        }

        DeflateParameters? offer = offers.Select(o => DeflateParameters.From(o, isOffer: true, out _)).FirstOrDefault(p => p is not null);
        if (offer is null)
        {
            Assert.True(response is null, $"No offer in \"{string.Join(", ", offerLines)}\" is a valid permessage-deflate offer, so the server must decline it; it answered \"{response}\".");
            return null;
        }

        Assert.True(response is not null, $"The server declined \"{string.Join(", ", offerLines)}\", whose first valid offer it can honour.");
        List<ExtensionElement>? elements = ExtensionElement.ParseList(response);
        Assert.True(elements is { Count: 1 }, $"The response Sec-WebSocket-Extensions: {response} must be exactly one extension (RFC 6455 §9.1).");
        DeflateParameters? accepted = DeflateParameters.From(elements[0], isOffer: false, out string why);
        Assert.True(accepted is not null, $"The response Sec-WebSocket-Extensions: {response} is not a valid permessage-deflate response: {why}.");
        AssertAccepts(offer, accepted, response);

        // The client limits its own window by offering a value (§7.1.2.2), and the server may lower it further.
        int clientBits = Math.Min(accepted.ClientMaxWindowBits ?? 15, offer.ClientMaxWindowBits is > 0 and int offered ? offered : 15);
        return new DeflateAgreement(accepted.ServerNoContextTakeover, accepted.ClientNoContextTakeover, accepted.ServerMaxWindowBits ?? 15, clientBits)
        {
            Response = response,
            Offer = offer,
        };
    }

    private static void AssertAccepts(DeflateParameters offer, DeflateParameters response, string text)
    {
        string prefix = $"The response \"{text}\" does not accept the offer {offer}:";

        // §7.1.1.1: accepting server_no_context_takeover means including it; a server may add it unasked.
        Assert.True(!offer.ServerNoContextTakeover || response.ServerNoContextTakeover, $"{prefix} the offer asks for server_no_context_takeover (§7.1.1.1).");

        // §7.1.2.1: an offered server_max_window_bits is accepted with the same or a smaller value.
        if (offer.ServerMaxWindowBits is { } serverLimit)
        {
            Assert.True(response.ServerMaxWindowBits is { } answered && answered <= serverLimit,
                $"{prefix} server_max_window_bits={serverLimit} must come back with a value of at most {serverLimit} (§7.1.2.1).");
        }

        // §7.1.2.2: client_max_window_bits only when offered, and no larger than an offered value.
        if (response.ClientMaxWindowBits is { } clientBits)
        {
            Assert.True(offer.ClientMaxWindowBits is not null, $"{prefix} client_max_window_bits was not offered, so it must not appear (§7.1.2.2).");
            Assert.True(offer.ClientMaxWindowBits is 0 || clientBits <= offer.ClientMaxWindowBits,
                $"{prefix} client_max_window_bits={clientBits} is larger than the offered {offer.ClientMaxWindowBits} (§7.1.2.2).");
        }
    }
}

/// <summary>
/// The client's side of permessage-deflate, written on System.IO.Compression.DeflateStream rather than on Tern's codec:
/// raw deflate, each message ended by a sync flush whose 00 00 FF FF tail is stripped (RFC 7692 §7.2.1), a stream per
/// message when there is no context takeover, one stream for the whole connection otherwise.
/// </summary>
internal sealed class DeflateSession(DeflateAgreement agreement) : IDisposable
{
    private static readonly byte[] SyncTail = [0x00, 0x00, 0xFF, 0xFF];

    private readonly MessageDeflater _deflater = new(contextTakeover: !agreement.ClientNoContextTakeover, agreement.ClientMaxWindowBits);
    private readonly MessageInflater _inflater = new(contextTakeover: !agreement.ServerNoContextTakeover);

    public DeflateAgreement Agreement => agreement;

    /// <summary>Messages the server sent compressed / uncompressed on this connection.</summary>
    public int CompressedReceived { get; private set; }

    public int UncompressedReceived { get; private set; }

    public byte[] Compress(ReadOnlySpan<byte> message) => _deflater.Compress(message);

    /// <summary>Inflates a compressed message from the server; fails the test when it is not valid deflate data.</summary>
    public byte[] Inflate(byte[] compressed)
    {
        CompressedReceived++;
        if (agreement.ServerMaxWindowBits < 15)
        {
            int window = 1 << agreement.ServerMaxWindowBits;
            int distance = MaxDistance([.. compressed, .. SyncTail]);
            Assert.True(distance <= window, $"The server's compressed message refers {distance} bytes back, beyond the agreed server_max_window_bits={agreement.ServerMaxWindowBits} ({window} bytes, RFC 7692 §7.1.2.1).");
        }

        return _inflater.Inflate(compressed, agreement.ServerNoContextTakeover);
    }

    public void CountUncompressed() => UncompressedReceived++;

    private static int MaxDistance(byte[] data)
    {
        try
        {
            return DeflateDistances.Max(data);
        }
        catch (InvalidDataException e)
        {
            Assert.Fail($"The server sent a compressed message that is not valid deflate data ({data.Length} bytes {ServerEvent.Preview(data)}): {e.Message}");
            throw;
        }
    }

    public void Dispose()
    {
        _deflater.Dispose();
        _inflater.Dispose();
    }

    private sealed class MessageDeflater(bool contextTakeover, int windowBits) : IDisposable
    {
        private MemoryStream _output = new();
        private DeflateStream? _stream;

        public byte[] Compress(ReadOnlySpan<byte> message)
        {
            if (_stream is null || !contextTakeover)
            {
                _stream?.Dispose();
                _output = new MemoryStream();
                _stream = new DeflateStream(_output, Options(), leaveOpen: true);
            }

            _output.SetLength(0);
            _stream.Write(message);
            _stream.Flush();
            byte[] output = _output.ToArray();
            if (output.Length == 0)
            {
                // zlib writes nothing for an empty message; an empty stored block's first byte is a valid one (§7.2.3.6).
                return [0x00];
            }

            Assert.True(output.AsSpan().EndsWith(SyncTail), "DeflateStream.Flush did not end in a sync flush marker.");
            return output[..^SyncTail.Length];
        }

        public void Dispose() => _stream?.Dispose();

        // DeflateStream's window is always 15 bits. A smaller agreed window is kept by never referring further back
        // than one byte: run-length encoding still compresses, and is valid deflate data for any window (RFC 7692 §7.1.2.2).
        private ZLibCompressionOptions Options() => new()
        {
            CompressionLevel = 1,
            CompressionStrategy = windowBits < 15 ? ZLibCompressionStrategy.RunLengthEncoding : ZLibCompressionStrategy.Default,
        };
    }

    private sealed class MessageInflater(bool contextTakeover) : IDisposable
    {
        private readonly FeedStream _input = new();
        private DeflateStream? _stream;

        public byte[] Inflate(byte[] compressed, bool serverNoContextTakeover)
        {
            if (_stream is null || !contextTakeover)
            {
                // Without context takeover each message is inflated from scratch, so a server that referred back to an
                // earlier message anyway fails here with "invalid distance too far back".
                _stream?.Dispose();
                _input.Clear();
                _stream = new DeflateStream(_input, CompressionMode.Decompress, leaveOpen: true);
            }

            _input.Append(compressed);
            _input.Append(SyncTail);
            var output = new MemoryStream();
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = _stream.Read(buffer)) > 0)
                {
                    output.Write(buffer, 0, read);
                }
            }
            catch (InvalidDataException e)
            {
                Assert.Fail($"The server sent a compressed message ({compressed.Length} bytes {ServerEvent.Preview(compressed)}) that does not inflate" +
                    $"{(serverNoContextTakeover ? " on its own (server_no_context_takeover was agreed)" : "")}: {e.Message}");
            }

            return output.ToArray();
        }

        public void Dispose() => _stream?.Dispose();
    }

    /// <summary>A read-only stream the inflater pulls from, appended to one message at a time.</summary>
    private sealed class FeedStream : Stream
    {
        private byte[] _data = [];
        private int _position;

        private int Remaining => _data.Length - _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void Clear()
        {
            _data = [];
            _position = 0;
        }

        public void Append(ReadOnlySpan<byte> bytes)
        {
            _data = [.. _data.AsSpan(_position), .. bytes];
            _position = 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int take = Math.Min(buffer.Length, Remaining);
            _data.AsSpan(_position, take).CopyTo(buffer);
            _position += take;
            return take;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
