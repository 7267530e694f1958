using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Tests.TestSupport;

/// <summary>An HTTP response read off the wire: status, headers (names lower-cased) and body.</summary>
internal sealed record RawHttpResponse(int StatusCode, string Head, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public override string ToString() => Head + Body;
}

/// <summary>
/// A client on a plain socket that does exactly what the test says and nothing more: send any HTTP request, finish a
/// WebSocket handshake and then stay silent, send masked frames, read raw frames, vanish with a TCP reset.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly MemoryStream _pending = new();

    private RawPeer(Socket socket)
    {
        _socket = socket;
    }

    public Socket Socket => _socket;

    /// <summary>
    /// Connects to 127.0.0.1:<paramref name="port"/>. A small receive buffer makes a peer that does not read fill up sooner.
    /// <paramref name="from"/> binds the client to another local address first (Linux routes all of 127/8 to loopback).
    /// </summary>
    public static async Task<RawPeer> ConnectAsync(int port, int? receiveBufferSize = null, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
        return new RawPeer(socket);
    }

    /// <summary>Connects and completes a WebSocket handshake on <paramref name="path"/>; fails the test unless the answer is 101.</summary>
    public static async Task<RawPeer> ConnectWebSocketAsync(int port, string path = "/", int? receiveBufferSize = null, IPAddress? from = null)
    {
        RawPeer peer = await ConnectAsync(port, receiveBufferSize, from);
        await peer.SendAsync(UpgradeRequest(path));
        string head = await peer.ReadHttpHeadAsync();
        Assert.StartsWith("HTTP/1.1 101 ", head);
        return peer;
    }

    /// <summary>A valid upgrade request; <paramref name="extraHeaders"/> are raw header lines.</summary>
    public static string UpgradeRequest(string path = "/", params string[] extraHeaders)
    {
        var request = new StringBuilder()
            .Append("GET ").Append(path).Append(" HTTP/1.1\r\n")
            .Append("Host: 127.0.0.1\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Sec-WebSocket-Key: ").Append(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))).Append("\r\n")
            .Append("Sec-WebSocket-Version: 13\r\n");
        foreach (string header in extraHeaders)
        {
            request.Append(header).Append("\r\n");
        }

        return request.Append("\r\n").ToString();
    }

    /// <summary>Sends one HTTP request on a new connection and reads the whole response (the server closes after it).</summary>
    public static async Task<RawHttpResponse> ExchangeHttpAsync(int port, string request)
    {
        await using RawPeer peer = await ConnectAsync(port);
        await peer.SendAsync(request);
        return await peer.ReadHttpResponseAsync();
    }

    public async Task SendAsync(string ascii) => await SendAsync(Encoding.UTF8.GetBytes(ascii));

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
    }

    /// <summary>Sends one masked frame, as a client must.</summary>
    public Task SendFrameAsync(byte opcode, ReadOnlySpan<byte> payload, bool fin = true)
    {
        byte[] frame = new byte[14 + payload.Length];
        frame[0] = (byte)((fin ? 0x80 : 0) | opcode);
        int offset;
        if (payload.Length <= 125)
        {
            frame[1] = (byte)(0x80 | payload.Length);
            offset = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
            offset = 4;
        }
        else
        {
            frame[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
            offset = 10;
        }

        byte[] key = RandomNumberGenerator.GetBytes(4);
        key.CopyTo(frame, offset);
        offset += 4;
        for (int i = 0; i < payload.Length; i++)
        {
            frame[offset + i] = (byte)(payload[i] ^ key[i & 3]);
        }

        return SendAsync(frame[..(offset + payload.Length)]);
    }

    /// <summary>The RSV bits of the frame <see cref="ReadFrameAsync"/> read last (4 is RSV1, permessage-deflate's bit).</summary>
    public byte LastFrameRsv { get; private set; }

    /// <summary>Reads one frame from the server (unmasked), or null when the server closed TCP first.</summary>
    public async Task<(byte Opcode, bool Fin, byte[] Payload)?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        if (!await FillAsync(2, deadline.Token))
        {
            return null;
        }

        byte[] start = Peek(2);
        int length7 = start[1] & 0x7F;
        int headerLength = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0);
        Assert.True((start[1] & 0x80) == 0, "a server frame must not be masked");
        if (!await FillAsync(headerLength, deadline.Token))
        {
            return null;
        }

        byte[] header = Peek(headerLength);
        long length = length7 switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(2)),
            _ => length7,
        };
        if (!await FillAsync(headerLength + (int)length, deadline.Token))
        {
            return null;
        }

        byte[] frame = Take(headerLength + (int)length);
        LastFrameRsv = (byte)((frame[0] >> 4) & 0x7);
        return ((byte)(frame[0] & 0x0F), (frame[0] & 0x80) != 0, frame[headerLength..]);
    }

    /// <summary>Reads an HTTP response head (through the blank line); what follows stays buffered for the next read.</summary>
    public async Task<string> ReadHttpHeadAsync(TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            int end = IndexOfHeadEnd();
            if (end >= 0)
            {
                return Encoding.Latin1.GetString(Take(end + 4));
            }

            if (!await ReceiveMoreAsync(deadline.Token))
            {
                Assert.Fail($"The server closed the connection before a complete response head: '{Encoding.Latin1.GetString(_pending.ToArray())}'");
            }
        }
    }

    /// <summary>Reads a complete HTTP response: the head, then the body up to the server's close.</summary>
    public async Task<RawHttpResponse> ReadHttpResponseAsync(TimeSpan? timeout = null)
    {
        string head = await ReadHttpHeadAsync(timeout);
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (await ReceiveMoreAsync(deadline.Token))
        {
        }

        string[] lines = head.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var headers = new Dictionary<string, string>();
        foreach (string line in lines.Skip(1))
        {
            int colon = line.IndexOf(':');
            headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
        }

        int status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        return new RawHttpResponse(status, head, headers, Encoding.UTF8.GetString(Take((int)_pending.Length)));
    }

    /// <summary>Waits until the server closes TCP (true) or <paramref name="timeout"/> passes (false), discarding what arrives.</summary>
    public async Task<bool> WaitForServerCloseAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (await ReceiveMoreAsync(deadline.Token))
            {
                _pending.SetLength(0);
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Vanishes without a close frame or FIN: the kernel sends a TCP reset.</summary>
    public void Reset()
    {
        _socket.LingerState = new LingerOption(true, 0);
        _socket.Close();
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        while (_pending.Length < count)
        {
            if (!await ReceiveMoreAsync(cancellationToken))
            {
                return false;
            }
        }

        return true;
    }

    private async Task<bool> ReceiveMoreAsync(CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        int received;
        try
        {
            received = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        }
        catch (SocketException)
        {
            return false;
        }

        if (received == 0)
        {
            return false;
        }

        _pending.Seek(0, SeekOrigin.End);
        _pending.Write(buffer, 0, received);
        return true;
    }

    private int IndexOfHeadEnd() => _pending.ToArray().AsSpan().IndexOf("\r\n\r\n"u8);

    private byte[] Peek(int count) => _pending.ToArray()[..count];

    private byte[] Take(int count)
    {
        byte[] all = _pending.ToArray();
        _pending.SetLength(0);
        _pending.Write(all, count, all.Length - count);
        return all[..count];
    }
}
