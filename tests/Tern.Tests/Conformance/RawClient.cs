using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;
using Tern.TestSupport;

namespace Tern.Tests.Conformance;

/// <summary>What the server did next, as the raw client saw it.</summary>
internal enum ServerEventKind
{
    Message,
    Ping,
    Pong,
    Close,
    TcpClosed,
}

/// <summary>One thing the server did: a whole (reassembled) data message, a control frame, or closing the TCP connection.</summary>
/// <param name="Compressed">Whether a message arrived compressed (RSV1, permessage-deflate); its payload is inflated.</param>
internal sealed record ServerEvent(ServerEventKind Kind, int Opcode, byte[] Payload, int? CloseCode = null, string CloseReason = "", string TcpClosedHow = "", bool Compressed = false)
{
    public override string ToString() => Kind switch
    {
        ServerEventKind.Message => $"a {(Compressed ? "compressed " : "")}{Op.Name(Opcode)} message of {Payload.Length} bytes {Preview(Payload)}",
        ServerEventKind.Ping => $"a ping with {Payload.Length} bytes {Preview(Payload)}",
        ServerEventKind.Pong => $"a pong with {Payload.Length} bytes {Preview(Payload)}",
        ServerEventKind.Close => CloseCode is { } code ? $"a close frame with code {code} and reason \"{CloseReason}\"" : "a close frame without a status code",
        _ => $"the TCP connection closed ({TcpClosedHow})",
    };

    internal static string Preview(ReadOnlySpan<byte> bytes) =>
        bytes.Length <= 32 ? $"[{Convert.ToHexString(bytes)}]" : $"[{Convert.ToHexString(bytes[..32])}...]";
}

/// <summary>An HTTP response read off the wire.</summary>
internal sealed record RawHttpResponse(int StatusCode, string ReasonPhrase, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body)
{
    /// <summary>The values of a header (case-insensitive name), joined with ", " when repeated; null when absent.</summary>
    public string? this[string name]
    {
        get
        {
            string[] values = Headers.Where(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).ToArray();
            return values.Length == 0 ? null : string.Join(", ", values);
        }
    }

    /// <summary>Whether a comma-separated header lists <paramref name="token"/> (case-insensitive).</summary>
    public bool HasToken(string name, string token) =>
        this[name]?.Split(',').Any(t => t.Trim().Equals(token, StringComparison.OrdinalIgnoreCase)) == true;

    public string BodyText => Encoding.UTF8.GetString(Body);

    public override string ToString() => $"{StatusCode} {ReasonPhrase} ({string.Join("; ", Headers.Select(h => $"{h.Key}: {h.Value}"))}) \"{BodyText.Trim()}\"";
}

/// <summary>
/// A WebSocket client over a raw loopback socket that can send any bytes (valid or not, whole or chopped into small
/// writes) and checks everything the server sends against RFC 6455: unmasked frames, no RSV bits, defined opcodes,
/// minimal length encoding, unfragmented control frames of at most 125 bytes, valid UTF-8 in text and close reasons,
/// and nothing after the server's close frame but the end of the TCP connection. Optionally over TLS (an
/// <see cref="SslStream"/> between the socket and everything else), to run the same cases against a wss server.
/// </summary>
/// <remarks>
/// A background loop moves received bytes into a pipe, so a read can time out without disturbing the socket. Sends
/// never throw for a connection the server has dropped (a conformance case decides what that means); they record
/// <see cref="SendError"/> instead.
/// </remarks>
internal sealed partial class RawClient : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private const int MaxResponseHead = 16 * 1024;
    private const long MaxFramePayload = 64L * 1024 * 1024;

    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly Socket _socket;
    private readonly SslStream? _tls;
    private readonly Pipe _received = new(new PipeOptions(pauseWriterThreshold: 8 * 1024 * 1024, resumeWriterThreshold: 4 * 1024 * 1024, useSynchronizationContext: false));
    private readonly Task _pump;
    private readonly int _port;
    private string _tcpClosedHow = "";
    private int _messageOpcode = -1;
    private MemoryStream? _message;
    private bool _closeFrameSeen;

    private RawClient(Socket socket, SslStream? tls, int port)
    {
        _socket = socket;
        _tls = tls;
        _port = port;
        _pump = PumpAsync();
    }

    /// <summary>The first socket error met while sending, if any (the server had dropped the connection).</summary>
    public string? SendError { get; private set; }

    /// <summary>The 101 response of <see cref="OpenAsync"/>.</summary>
    public RawHttpResponse? Handshake { get; private set; }

    /// <summary>The TLS version negotiated; null without TLS.</summary>
    public SslProtocols? TlsProtocol => _tls?.SslProtocol;

    /// <summary>
    /// Opens a TCP connection to 127.0.0.1 and nothing more; with <paramref name="tls"/>, also the TLS handshake
    /// (trusting the test certificates, limited to <paramref name="protocols"/> unless None).
    /// </summary>
    public static async Task<RawClient> ConnectAsync(int port, bool tls = false, SslProtocols protocols = SslProtocols.None)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? stream = null;
        try
        {
            using var timeout = new CancellationTokenSource(DefaultTimeout);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
            if (tls)
            {
                stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
                SslClientAuthenticationOptions options = TestCertificates.ClientOptions();
                options.TargetHost = "localhost";
                options.EnabledSslProtocols = protocols;
                await stream.AuthenticateAsClientAsync(options, timeout.Token);
            }
        }
        catch
        {
            stream?.Dispose();
            socket.Dispose();
            throw;
        }

        return new RawClient(socket, stream, port);
    }

    /// <summary>Connects and completes the opening handshake, asserting a correct 101 response.</summary>
    /// <param name="port">The server's port.</param>
    /// <param name="path">The request target.</param>
    /// <param name="extraHeaders">More header lines, e.g. "Origin: https://example.com".</param>
    public static Task<RawClient> OpenAsync(int port, string path = "/", params string[] extraHeaders) =>
        OpenAsync(port, tls: false, path, extraHeaders);

    /// <summary>Connects (over TLS when <paramref name="tls"/>) and completes the opening handshake, asserting a correct 101 response.</summary>
    public static async Task<RawClient> OpenAsync(int port, bool tls, string path = "/", params string[] extraHeaders)
    {
        RawClient client = await ConnectAsync(port, tls);
        try
        {
            string key = NewKey();
            await client.SendAsync(UpgradeRequest(path, port, key, extraHeaders));
            RawHttpResponse response = await client.ReadHttpResponseAsync();
            AssertAccepts(response, key);
            client.Handshake = response;
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>A fresh Sec-WebSocket-Key: 16 random bytes in base64.</summary>
    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));

    /// <summary>The Sec-WebSocket-Accept value for a key, computed here rather than by Tern (RFC 6455 §4.2.2).</summary>
    public static string AcceptFor(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));

    /// <summary>A valid upgrade request with optional extra header lines.</summary>
    public static byte[] UpgradeRequest(string path, int port, string key, params string[] extraHeaders) =>
        Request($"GET {path} HTTP/1.1", [$"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
            $"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", .. extraHeaders]);

    /// <summary>An HTTP request head made of a request line and header lines.</summary>
    public static byte[] Request(string requestLine, IEnumerable<string> headerLines) =>
        Encoding.Latin1.GetBytes(requestLine + "\r\n" + string.Concat(headerLines.Select(h => h + "\r\n")) + "\r\n");

    /// <summary>Asserts that a response accepts the handshake as RFC 6455 §4.2.2 requires, for the given key.</summary>
    /// <param name="response">The server's response.</param>
    /// <param name="key">The request's Sec-WebSocket-Key.</param>
    /// <param name="extensionsOffered">Whether the request offered extensions; if not, the response must name none.</param>
    public static void AssertAccepts(RawHttpResponse response, string key, bool extensionsOffered = false)
    {
        Assert.True(response.StatusCode == 101, $"Expected 101 Switching Protocols, got {response}");
        Assert.True(response.HasToken("Upgrade", "websocket"), $"The 101 response must carry Upgrade: websocket: {response}");
        Assert.True(response.HasToken("Connection", "Upgrade"), $"The 101 response must carry Connection: Upgrade: {response}");
        Assert.Equal(AcceptFor(key), response["Sec-WebSocket-Accept"]);
        Assert.True(extensionsOffered || response["Sec-WebSocket-Extensions"] is null, $"No extension was offered or negotiated, yet the server sent one: {response}");
    }

    /// <summary>
    /// Sends bytes, whole or in chops of <paramref name="chopSize"/> bytes (one write each, with the socket's Nagle
    /// algorithm off) separated by <paramref name="chopDelayMs"/> milliseconds, so the server sees them arrive piecemeal.
    /// </summary>
    public async Task SendAsync(ReadOnlyMemory<byte> bytes, int chopSize = 0, int chopDelayMs = 0)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            if (chopSize <= 0)
            {
                await WriteAsync(bytes, timeout.Token);
                return;
            }

            for (int offset = 0; offset < bytes.Length; offset += chopSize)
            {
                await WriteAsync(bytes.Slice(offset, Math.Min(chopSize, bytes.Length - offset)), timeout.Token);
                if (chopDelayMs > 0)
                {
                    await Task.Delay(chopDelayMs, timeout.Token);
                }
            }
        }
        catch (SocketException e)
        {
            SendError ??= e.SocketErrorCode.ToString();
        }
        catch (IOException e)
        {
            // Over TLS the socket's error comes wrapped.
            SendError ??= e.InnerException is SocketException inner ? inner.SocketErrorCode.ToString() : e.Message;
        }
        catch (ObjectDisposedException)
        {
            SendError ??= "disposed";
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("Sending did not complete within 60 s: the server stopped reading.");
        }
    }

    /// <summary>Sends each buffer as its own write, separated by <paramref name="delayMs"/> (Autobahn's "frame-wise chops").</summary>
    public async Task SendEachAsync(IEnumerable<byte[]> writes, int delayMs = 1)
    {
        foreach (byte[] write in writes)
        {
            await SendAsync(write);
            await Task.Delay(delayMs);
        }
    }

    /// <summary>Reads one HTTP response: the head, then a body of Content-Length bytes.</summary>
    public async Task<RawHttpResponse> ReadHttpResponseAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        PipeReader reader = _received.Reader;
        string head;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(cts.Token);
                ReadOnlySequence<byte> buffer = result.Buffer;
                SequencePosition? end = FindHeadEnd(buffer);
                if (end is { } headEnd)
                {
                    head = Encoding.Latin1.GetString(buffer.Slice(0, headEnd));
                    reader.AdvanceTo(headEnd);
                    break;
                }

                Assert.True(buffer.Length <= MaxResponseHead, "The response head is larger than 16 KiB.");
                if (result.IsCompleted)
                {
                    Assert.Fail($"The TCP connection closed ({_tcpClosedHow}) before a complete HTTP response head; got \"{Encoding.Latin1.GetString(buffer)}\"");
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No complete HTTP response within {(timeout ?? DefaultTimeout).TotalSeconds} s.");
            throw;
        }

        string[] lines = head.Split("\r\n", StringSplitOptions.None);
        string[] status = lines[0].Split(' ', 3);
        Assert.True(status.Length >= 2 && status[0] == "HTTP/1.1" && int.TryParse(status[1], out _), $"Malformed status line \"{lines[0]}\"");
        var headers = new List<KeyValuePair<string, string>>();
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            Assert.True(colon > 0, $"Malformed header line \"{line}\"");
            headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
        }

        int statusCode = int.Parse(status[1], System.Globalization.CultureInfo.InvariantCulture);
        byte[] body = [];
        string? contentLength = headers.FirstOrDefault(h => h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)).Value;
        if (statusCode != 101 && contentLength is not null)
        {
            int length = int.Parse(contentLength, System.Globalization.CultureInfo.InvariantCulture);
            body = await ReadBytesAsync(length, cts.Token) ?? throw new InvalidOperationException("unreachable");
        }

        return new RawHttpResponse(statusCode, status.Length > 2 ? status[2] : "", headers, body);
    }

    /// <summary>
    /// The next event from the server: a whole data message (fragments reassembled), a control frame (even in the
    /// middle of a fragmented message), or the end of the TCP connection. Fails the test on any protocol violation by
    /// the server, and when nothing arrives within <paramref name="timeout"/>.
    /// </summary>
    public async Task<ServerEvent> NextEventAsync(TimeSpan? timeout = null, string expecting = "anything")
    {
        TimeSpan wait = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(wait);
        try
        {
            return await ReadEventAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Waited {wait.TotalSeconds} s for {expecting}, but the server sent nothing more and kept the connection open.");
            throw;
        }
    }

    /// <summary>Expects the next event to be a data message with exactly this opcode and payload, and returns it.</summary>
    public async Task<ServerEvent> ExpectMessageAsync(int opcode, byte[] payload, TimeSpan? timeout = null)
    {
        string expected = $"a {Op.Name(opcode)} message of {payload.Length} bytes {ServerEvent.Preview(payload)}";
        ServerEvent received = await NextEventAsync(timeout, expected);
        Assert.True(received.Kind == ServerEventKind.Message && received.Opcode == opcode,
            $"Expected {expected}, got {received}.");
        if (!received.Payload.AsSpan().SequenceEqual(payload))
        {
            int first = received.Payload.AsSpan().CommonPrefixLength(payload);
            Assert.Fail($"Expected {expected}, got {received}: the payloads differ from byte {first}.");
        }

        return received;
    }

    public Task ExpectTextAsync(string text, TimeSpan? timeout = null) => ExpectMessageAsync(Op.Text, Encoding.UTF8.GetBytes(text), timeout);

    /// <summary>Expects the next event to be a pong with exactly this payload.</summary>
    public async Task ExpectPongAsync(byte[] payload)
    {
        ServerEvent received = await NextEventAsync(expecting: $"a pong {ServerEvent.Preview(payload)}");
        Assert.True(received.Kind == ServerEventKind.Pong && received.Payload.AsSpan().SequenceEqual(payload),
            $"Expected a pong with {payload.Length} bytes {ServerEvent.Preview(payload)}, got {received}.");
    }

    public Task ExpectPongAsync(string payload) => ExpectPongAsync(Encoding.UTF8.GetBytes(payload));

    /// <summary>Expects the next event to be a close frame whose code is one of <paramref name="codes"/> (null: no code).</summary>
    public async Task<ServerEvent> ExpectCloseFrameAsync(params int?[] codes)
    {
        string expected = $"a close frame with code {string.Join(" or ", codes.Select(c => c?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)"))}";
        ServerEvent received = await NextEventAsync(expecting: expected);
        Assert.True(received.Kind == ServerEventKind.Close, $"Expected {expected}, got {received}.");
        Assert.True(codes.Contains(received.CloseCode), $"Expected {expected}, got {received}.");
        return received;
    }

    /// <summary>Expects the server to close the TCP connection next (EOF or reset), sending no other frame first.</summary>
    public async Task ExpectTcpClosedAsync(TimeSpan? timeout = null)
    {
        ServerEvent received = await NextEventAsync(timeout, "the server to close the TCP connection");
        Assert.True(received.Kind == ServerEventKind.TcpClosed, $"Expected the server to close the TCP connection, got {received}.");
    }

    /// <summary>
    /// A clean close started by the client: sends a close frame with <paramref name="code"/> and expects the server's
    /// close frame echoing it (or 1000, which RFC 6455 §5.5.1 also allows), then the server closing TCP (§7.1.1: the
    /// server closes the TCP connection first).
    /// </summary>
    public async Task CloseNormallyAsync(int code = 1000)
    {
        await SendAsync(WireFrame.Close(code));
        await ExpectCloseFrameAsync(code, 1000);
        await ExpectTcpClosedAsync();
    }

    /// <summary>
    /// Expects the server to fail the connection (RFC 6455 §7.1.7): its close frame with <paramref name="code"/>, then
    /// the TCP connection closed by the server. The client answers the close frame, as a well-behaved peer does.
    /// </summary>
    /// <remarks>
    /// RFC 6455 says the failing endpoint SHOULD send the close frame, and Autobahn accepts a bare TCP drop here too;
    /// Tern promises the right code, so a drop without the close frame fails the case.
    /// </remarks>
    public async Task ExpectFailureAsync(int code)
    {
        ServerEvent received = await NextEventAsync(expecting: $"the server to fail the connection with close code {code}");
        if (received.Kind == ServerEventKind.TcpClosed)
        {
            Assert.Fail($"Expected a close frame with code {code}; the server dropped the TCP connection ({received.TcpClosedHow}) without one. " +
                "(RFC 6455 §7.1.7 only says SHOULD send it, and Autobahn accepts a drop, but Tern promises the code.)");
        }

        Assert.True(received.Kind == ServerEventKind.Close && received.CloseCode == code,
            $"Expected the server to fail the connection with close code {code}, got {received}.");
        await SendAsync(WireFrame.Close(code));
        await ExpectTcpClosedAsync();
    }

    /// <summary>Expects the server to send nothing at all (and keep the connection open) for <paramref name="quiet"/>.</summary>
    public async Task ExpectNothingForAsync(TimeSpan quiet)
    {
        using var cts = new CancellationTokenSource(quiet);
        try
        {
            ReadResult result = await _received.Reader.ReadAsync(cts.Token);
            _received.Reader.AdvanceTo(result.Buffer.Start);
            if (result.Buffer.IsEmpty && result.IsCompleted)
            {
                Assert.Fail($"Expected the connection to stay open and quiet for {quiet.TotalMilliseconds} ms, but the server closed it ({_tcpClosedHow}).");
            }

            ServerEvent received = await NextEventAsync();
            Assert.Fail($"Expected nothing from the server for {quiet.TotalMilliseconds} ms, got {received}.");
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Deflate?.Dispose();
        _tls?.Dispose();
        _socket.Dispose();
        await _pump;
        await _received.Reader.CompleteAsync();
    }

    private async Task PumpAsync()
    {
        await Task.Yield();
        PipeWriter writer = _received.Writer;
        try
        {
            while (true)
            {
                Memory<byte> memory = writer.GetMemory(64 * 1024);
                int received = _tls is null ? await _socket.ReceiveAsync(memory, SocketFlags.None) : await _tls.ReadAsync(memory);
                if (received == 0)
                {
                    _tcpClosedHow = "EOF";
                    break;
                }

                writer.Advance(received);
                FlushResult flushed = await writer.FlushAsync();
                if (flushed.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (SocketException e)
        {
            _tcpClosedHow = $"reset: {e.SocketErrorCode}";
        }
        catch (IOException e)
        {
            _tcpClosedHow = e.InnerException is SocketException inner ? $"reset: {inner.SocketErrorCode}" : $"TLS error: {e.Message}";
        }
        catch (ObjectDisposedException)
        {
            _tcpClosedHow = "closed by the client";
        }
        finally
        {
            await writer.CompleteAsync();
        }
    }

    private ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        _tls is null ? SendAllAsync(bytes, cancellationToken) : _tls.WriteAsync(bytes, cancellationToken);

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        await _socket.SendAsync(bytes, SocketFlags.None, cancellationToken);

    private async Task<ServerEvent> ReadEventAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            (bool fin, int opcode, int rsv, byte[] payload)? frame = await ReadFrameAsync(cancellationToken);
            if (frame is null)
            {
                Assert.True(_messageOpcode < 0, $"The TCP connection closed ({_tcpClosedHow}) in the middle of a fragmented message.");
                string how = SendError is null ? _tcpClosedHow : $"{_tcpClosedHow}; a send had failed with {SendError}";
                return new ServerEvent(ServerEventKind.TcpClosed, -1, [], TcpClosedHow: how);
            }

            (bool finalFragment, int op, int rsv, byte[] data) = frame.Value;
            Assert.False(_closeFrameSeen, $"The server sent a {Op.Name(op)} frame after its close frame (RFC 6455 §5.5.1).");
            CheckCompressionBit(op, rsv);
            switch (op)
            {
                case Op.Ping:
                    return new ServerEvent(ServerEventKind.Ping, op, data);
                case Op.Pong:
                    return new ServerEvent(ServerEventKind.Pong, op, data);
                case Op.Close:
                    _closeFrameSeen = true;
                    return ParseClose(data);
                case Op.Text or Op.Binary:
                    Assert.True(_messageOpcode < 0, "The server started a new message before finishing its fragmented one (RFC 6455 §5.4).");
                    _messageOpcode = op;
                    _messageCompressed = rsv != 0;
                    _message = new MemoryStream(data.Length);
                    break;
                default:
                    Assert.True(_messageOpcode >= 0, "The server sent a continuation frame with no message to continue (RFC 6455 §5.4).");
                    break;
            }

            _message!.Write(data);
            if (finalFragment)
            {
                byte[] message = ReceivedPayload(_message.ToArray(), _messageCompressed);
                int messageOpcode = _messageOpcode;
                _messageOpcode = -1;
                _message = null;
                if (messageOpcode == Op.Text)
                {
                    AssertUtf8(message, "The server sent a text message that is not valid UTF-8 (RFC 6455 §8.1).");
                }

                return new ServerEvent(ServerEventKind.Message, messageOpcode, message, Compressed: _messageCompressed);
            }
        }
    }

    private static ServerEvent ParseClose(byte[] payload)
    {
        if (payload.Length == 0)
        {
            return new ServerEvent(ServerEventKind.Close, Op.Close, payload);
        }

        Assert.True(payload.Length >= 2, "The server sent a close frame with a 1-byte payload (RFC 6455 §5.5.1).");
        int code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        Assert.True(code is >= 1000 and <= 1003 or >= 1007 and <= 1014 or >= 3000 and <= 4999,
            $"The server sent close code {code}, which may not appear on the wire (RFC 6455 §7.4).");
        AssertUtf8(payload[2..], "The server sent a close reason that is not valid UTF-8 (RFC 6455 §5.5.1).");
        return new ServerEvent(ServerEventKind.Close, Op.Close, payload, code, Encoding.UTF8.GetString(payload, 2, payload.Length - 2));
    }

    private static void AssertUtf8(byte[] bytes, string message)
    {
        try
        {
            StrictUtf8.GetCharCount(bytes);
        }
        catch (DecoderFallbackException)
        {
            Assert.Fail(message);
        }
    }

    /// <summary>Reads one server frame and checks its header; null when the TCP connection ended at a frame boundary.</summary>
    private async Task<(bool Fin, int Opcode, int Rsv, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        byte[]? start = await ReadBytesAsync(2, cancellationToken);
        if (start is null)
        {
            return null;
        }

        bool fin = (start[0] & 0x80) != 0;
        int rsv = (start[0] >> 4) & 0x7;
        int opcode = start[0] & 0xF;
        bool masked = (start[1] & 0x80) != 0;
        long length = start[1] & 0x7F;
        Assert.False(masked, "The server sent a masked frame; server frames must not be masked (RFC 6455 §5.1).");
        Assert.True(rsv == 0 || (rsv == Rsv1 && Deflate is not null), $"The server set RSV bits {rsv} without a negotiated extension that defines them (RFC 6455 §5.2).");
        Assert.True(Op.IsDefined(opcode), $"The server sent reserved opcode {opcode} (RFC 6455 §5.2).");
        if (length == 126)
        {
            length = BinaryPrimitives.ReadUInt16BigEndian(await ReadRequiredAsync(2, cancellationToken));
            Assert.True(length >= 126, $"The server encoded a length of {length} in the 16-bit form; the minimal form is required (RFC 6455 §5.2).");
        }
        else if (length == 127)
        {
            ulong wide = BinaryPrimitives.ReadUInt64BigEndian(await ReadRequiredAsync(8, cancellationToken));
            Assert.True(wide >> 63 == 0, "The server set the most significant bit of a 64-bit length (RFC 6455 §5.2).");
            Assert.True(wide > ushort.MaxValue, $"The server encoded a length of {wide} in the 64-bit form; the minimal form is required (RFC 6455 §5.2).");
            Assert.True(wide <= MaxFramePayload, $"The server announced a {wide}-byte frame, more than any case sends.");
            length = (long)wide;
        }

        if (Op.IsControl(opcode))
        {
            Assert.True(fin, $"The server fragmented a {Op.Name(opcode)} frame (RFC 6455 §5.5).");
            Assert.True(length <= 125, $"The server sent a {Op.Name(opcode)} frame of {length} bytes; control frames carry at most 125 (RFC 6455 §5.5).");
        }

        byte[] payload = length == 0 ? [] : await ReadRequiredAsync((int)length, cancellationToken);
        return (fin, opcode, rsv, payload);
    }

    private async Task<byte[]> ReadRequiredAsync(int count, CancellationToken cancellationToken) =>
        await ReadBytesAsync(count, cancellationToken)
        ?? throw new Xunit.Sdk.XunitException($"The TCP connection closed ({_tcpClosedHow}) in the middle of a frame.");

    /// <summary>Reads exactly <paramref name="count"/> bytes; null if the stream ended before the first one.</summary>
    private async Task<byte[]?> ReadBytesAsync(int count, CancellationToken cancellationToken)
    {
        var bytes = new byte[count];
        int filled = 0;
        PipeReader reader = _received.Reader;
        while (filled < count)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int take = (int)Math.Min(buffer.Length, count - filled);
            buffer.Slice(0, take).CopyTo(bytes.AsSpan(filled));
            filled += take;
            reader.AdvanceTo(buffer.GetPosition(take));
            if (filled < count && result.IsCompleted)
            {
                if (filled == 0)
                {
                    return null;
                }

                Assert.Fail($"The TCP connection closed ({_tcpClosedHow}) in the middle of a frame.");
            }
        }

        return bytes;
    }

    private static SequencePosition? FindHeadEnd(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true) ? reader.Position : null;
    }
}
