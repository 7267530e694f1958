using System.Net;
using System.Net.Security;

namespace Tern.Transport;

/// <summary>
/// TLS over a <see cref="SocketTransport"/>: an <see cref="SslStream"/> whose inner stream is the socket transport, so
/// that the socket keeps its send path (a plain non-blocking send first) under the encryption.
/// </summary>
/// <remarks>
/// Idle memory: the receive loop's zero-byte read passes through <see cref="SslStream"/> (which then holds no read
/// buffer of its own while it has nothing decrypted) down to a zero-byte socket receive, so an idle wss connection
/// holds no receive buffer at any layer. <see cref="SslStream"/> allows one read and one write at a time, concurrently,
/// which is what the receive loop and the send queue do.
/// </remarks>
internal sealed class TlsTransport : Transport
{
    private readonly SocketTransport _socket;
    private readonly SslStream _ssl;
    private int _sendShutdown;

    public TlsTransport(SocketTransport socket)
    {
        _socket = socket;
        _ssl = new SslStream(new TransportStream(socket), leaveInnerStreamOpen: true);
    }

    public override IPEndPoint RemoteEndPoint => _socket.RemoteEndPoint;

    public override IPEndPoint LocalEndPoint => _socket.LocalEndPoint;

    public override bool IsSecure => true;

    /// <summary>The TLS stream, for what the handshake negotiated (protocol, cipher, client certificate).</summary>
    public SslStream Stream => _ssl;

    public Task AuthenticateAsServerAsync(SslServerAuthenticationOptions options, CancellationToken cancellationToken) =>
        _ssl.AuthenticateAsServerAsync(options, cancellationToken);

    public Task AuthenticateAsClientAsync(SslClientAuthenticationOptions options, CancellationToken cancellationToken) =>
        _ssl.AuthenticateAsClientAsync(options, cancellationToken);

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ValueTask<int> reading;
        try
        {
            reading = _ssl.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception e) when (IsStreamFailure(e))
        {
            return ValueTask.FromException<int>(new IOException(e.Message, e));
        }

        return reading.IsCompletedSuccessfully ? reading : AwaitReceiveAsync(reading);
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        // After the FIN nothing more can be sent; the send queue expects the I/O failure a socket would give.
        if (Volatile.Read(ref _sendShutdown) != 0)
        {
            return ValueTask.FromException(new IOException("The TLS stream is closed for sending."));
        }

        ValueTask writing;
        try
        {
            writing = _ssl.WriteAsync(buffer, cancellationToken);
        }
        catch (Exception e) when (IsStreamFailure(e))
        {
            return ValueTask.FromException(new IOException(e.Message, e));
        }

        return writing.IsCompletedSuccessfully ? writing : AwaitSendAsync(writing);
    }

    /// <summary>
    /// What SslStream throws besides IOException when the stream is no longer usable: a peer's renegotiation attempt
    /// (refused), a write after the stream ended, an operation racing a dispose. The receive loop and the send queue treat
    /// I/O failures as the end of the connection; these must end it the same way rather than escape them.
    /// </summary>
    private static bool IsStreamFailure(Exception e) =>
        e is System.Security.Authentication.AuthenticationException or InvalidOperationException or NotSupportedException;

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AwaitReceiveAsync(ValueTask<int> reading)
    {
        try
        {
            return await reading.ConfigureAwait(false);
        }
        catch (Exception e) when (IsStreamFailure(e))
        {
            throw new IOException(e.Message, e);
        }
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask AwaitSendAsync(ValueTask writing)
    {
        try
        {
            await writing.ConfigureAwait(false);
        }
        catch (Exception e) when (IsStreamFailure(e))
        {
            throw new IOException(e.Message, e);
        }
    }

    public override void ShutdownSend()
    {
        if (Interlocked.Exchange(ref _sendShutdown, 1) != 0)
        {
            return;
        }

        // The TCP FIN alone, without a TLS close_notify. SslStream.ShutdownAsync runs OpenSSL's shutdown on the same
        // connection object that the receive loop may be decrypting with at that moment, and with a peer still
        // sending, that corrupted native memory and crashed the process (TlsTests' teardown test, about one run in
        // two). The WebSocket closing handshake, inside the encryption, is what tells a peer the stream ended on
        // purpose; what a missing close_notify would guard against (a cut that looks like a normal end) it already
        // shows, and browsers, ClientWebSocket and Node accept a TLS stream that ends this way.
        _socket.ShutdownSend();
    }

    public override void Dispose()
    {
        _ssl.Dispose();
        _socket.Dispose();
    }

    /// <summary>The socket transport as the <see cref="Stream"/> <see cref="SslStream"/> reads and writes.</summary>
    private sealed class TransportStream(SocketTransport transport) : Stream
    {
        public override bool CanRead => true;

        public override bool CanWrite => true;

        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            transport.ReceiveAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            transport.SendAsync(buffer, cancellationToken);

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        // SslStream is only used through its asynchronous methods; these exist because Stream requires them.
        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Write(byte[] buffer, int offset, int count) =>
            WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
