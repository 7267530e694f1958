namespace Tern.Tests.Conformance;

/// <summary>
/// The raw client's permessage-deflate (RFC 7692): offering it in the handshake, checking the server's answer, sending
/// compressed messages and inflating the server's. The codec is <see cref="DeflateSession"/>, independent of Tern's.
/// </summary>
internal sealed partial class RawClient
{
    /// <summary>The RSV bits value of RSV1 alone, as frame headers carry it: "Per-Message Compressed" (RFC 7692 §6).</summary>
    public const int Rsv1 = 4;

    private bool _messageCompressed;

    /// <summary>The connection's permessage-deflate state; null when the extension was not negotiated.</summary>
    public DeflateSession? Deflate { get; private set; }

    /// <summary>
    /// Connects (over TLS when <paramref name="tls"/>) with each of <paramref name="offerLines"/> as a
    /// Sec-WebSocket-Extensions header line, asserts a correct 101 whose extension answer is legal for the offers (see
    /// <see cref="DeflateNegotiation.AssertLegalResponse"/>), and sets <see cref="Deflate"/> when permessage-deflate was
    /// negotiated.
    /// </summary>
    public static Task<RawClient> OpenWithExtensionsAsync(int port, bool tls, params string[] offerLines) =>
        OpenWithExtensionsAsync(port, tls, "/", offerLines);

    /// <summary>Like <see cref="OpenWithExtensionsAsync(int, bool, string[])"/>, on the request target <paramref name="path"/>.</summary>
    public static async Task<RawClient> OpenWithExtensionsAsync(int port, bool tls, string path, string[] offerLines)
    {
        RawClient client = await ConnectAsync(port, tls);
        try
        {
            string key = NewKey();
            await client.SendAsync(UpgradeRequest(path, port, key, [.. offerLines.Select(o => "Sec-WebSocket-Extensions: " + o)]));
            RawHttpResponse response = await client.ReadHttpResponseAsync();
            AssertAccepts(response, key, extensionsOffered: true);
            Assert.True(response.Headers.Count(h => h.Key.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase)) <= 1,
                $"The 101 response carries Sec-WebSocket-Extensions more than once: {response}");
            DeflateAgreement? agreement = DeflateNegotiation.AssertLegalResponse(offerLines, response["Sec-WebSocket-Extensions"]);
            client.Handshake = response;
            client.Deflate = agreement is null ? null : new DeflateSession(agreement);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Sends one data message, compressed (RSV1 on its first frame only, RFC 7692 §6.1) or not, in frames of
    /// <paramref name="fragmentSize"/> payload bytes (0: one frame), all masked, in TCP chops of <paramref name="chopSize"/>.
    /// </summary>
    public Task SendMessageAsync(int opcode, ReadOnlySpan<byte> payload, bool compress = true, int fragmentSize = 0, int chopSize = 0)
    {
        byte[] body = compress
            ? (Deflate ?? throw new InvalidOperationException("permessage-deflate was not negotiated.")).Compress(payload)
            : payload.ToArray();
        int firstRsv = compress ? Rsv1 : 0;
        byte[] wire = fragmentSize > 0
            ? WireFrame.Fragmented(opcode, body, fragmentSize, firstRsv)
            : WireFrame.Encode(opcode, body, rsv: firstRsv);
        return SendAsync(wire, chopSize, chopDelayMs: chopSize > 0 ? 1 : 0);
    }

    /// <summary>
    /// Like <see cref="ExpectFailureAsync(int)"/> where RFC 6455 leaves the server a choice of close code; returns the
    /// code it chose.
    /// </summary>
    public async Task<int> ExpectFailureWithOneOfAsync(params int[] codes)
    {
        string expected = $"the server to fail the connection with close code {string.Join(" or ", codes)}";
        ServerEvent received = await NextEventAsync(expecting: expected);
        Assert.True(received.Kind == ServerEventKind.Close && received.CloseCode is { } code && codes.Contains(code),
            $"Expected {expected}, got {received}.");
        await SendAsync(WireFrame.Close(received.CloseCode.Value));
        await ExpectTcpClosedAsync();
        return received.CloseCode.Value;
    }

    /// <summary>RSV1 marks a compressed message: only on the first frame of a data message (RFC 7692 §6.1).</summary>
    private void CheckCompressionBit(int opcode, int rsv)
    {
        if (rsv == 0)
        {
            return;
        }

        Assert.False(Op.IsControl(opcode), $"The server set RSV1 on a {Op.Name(opcode)} frame; control frames are never compressed (RFC 7692 §6.1).");
        Assert.False(opcode == Op.Continuation, "The server set RSV1 on a continuation frame; only a message's first frame carries it (RFC 7692 §6.1).");
    }

    /// <summary>The message as the application sees it: inflated when it arrived compressed.</summary>
    private byte[] ReceivedPayload(byte[] wire, bool compressed)
    {
        if (!compressed)
        {
            Deflate?.CountUncompressed();
            return wire;
        }

        return Deflate!.Inflate(wire);
    }
}
