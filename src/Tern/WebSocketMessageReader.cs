namespace Tern;

/// <summary>
/// One message read as it arrives, from <see cref="WebSocketConnection.ReadMessageStreamAsync"/>: a read-only,
/// forward-only <see cref="Stream"/> whose reads return the payload's bytes as frames come in, and 0 at the end of the
/// message. The message is never held whole, so its size is bounded by <see cref="WebSocketServerOptions.MaxMessageSize"/>
/// (on the inflated size when compressed; 1009 past it), not by memory.
/// </summary>
/// <remarks>
/// <para>While the reader is open it is the connection's reader: pings are answered and a close is handled as its reads
/// go, and no other read may start. It lets go of the connection once its last byte has been read, or when disposed;
/// disposing before the end skips the rest of the message (it is read and dropped by the next read).</para>
/// <para>Text arrives as UTF-8 bytes, checked as they come: an invalid byte ends the connection with 1007 before the rest
/// is read, so a read then fails. A chunk may end in the middle of a character.</para>
/// <para>Only asynchronous reads are supported (<see cref="ReadAsync(Memory{byte}, CancellationToken)"/>,
/// <see cref="Stream.CopyToAsync(Stream)"/>, <c>JsonSerializer.DeserializeAsync</c>): a blocking read could wait on the
/// very thread that delivers the connection's input. A read fails with <see cref="IOException"/> (its inner exception a
/// <see cref="WebSocketClosedException"/>) if the connection ends before the message does; a server handler that lets
/// it escape is not logged as failing, as for a send after the peer left.</para>
/// </remarks>
public sealed class WebSocketMessageReader : Stream
{
    private readonly WebSocketConnection _connection;
    private ReadOnlyMemory<byte> _chunk;
    private bool _lastChunk;
    private bool _released;
    private bool _disposed;
    private long _length;

    internal WebSocketMessageReader(WebSocketConnection connection, WebSocketMessageKind kind, ReadOnlyMemory<byte> firstChunk, bool lastChunk)
    {
        _connection = connection;
        Kind = kind;
        _chunk = firstChunk;
        _lastChunk = lastChunk;
        _length = firstChunk.Length;
        ReleaseIfDone();
    }

    /// <summary>Text or binary.</summary>
    public WebSocketMessageKind Kind { get; }

    /// <summary>True for a text message.</summary>
    public bool IsText => Kind == WebSocketMessageKind.Text;

    /// <summary>True once every byte of the message has been read.</summary>
    public bool EndOfMessage => _lastChunk && _chunk.IsEmpty;

    /// <inheritdoc/>
    public override bool CanRead => !_disposed;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <summary>Not supported: the length is known only at the end.</summary>
    public override long Length => throw new NotSupportedException("A message read as a stream has no length until it ends.");

    /// <summary>Not supported.</summary>
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (_chunk.IsEmpty)
        {
            if (_lastChunk)
            {
                return 0;
            }

            if (_released)
            {
                throw new IOException("The connection closed before the end of the message.", new WebSocketClosedException());
            }

            if (!await _connection.ReceiveChunkAsync(cancellationToken).ConfigureAwait(false))
            {
                WebSocketCloseInfo? closed = _connection.CloseInfo;
                Release();
                throw new IOException($"The connection closed before the end of the message ({(closed is null ? "closing" : $"{(int)closed.Code} {closed.Reason}")}).",
                    new WebSocketClosedException());
            }

            (_chunk, _lastChunk) = _connection.ReceivedChunk;
            _length += _chunk.Length;
            ReleaseIfDone();
        }

        return TakeFromChunk(buffer.Span);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int TakeFromChunk(Span<byte> destination)
    {
        int taken = Math.Min(destination.Length, _chunk.Length);
        _chunk.Span[..taken].CopyTo(destination);
        _chunk = _chunk[taken..];
        ReleaseIfDone();
        return taken;
    }

    /// <summary>
    /// Lets go of the connection once the last chunk is read out: not before, as the chunk is the decoder's buffer,
    /// which the next read on the connection reuses.
    /// </summary>
    private void ReleaseIfDone()
    {
        if (_lastChunk && _chunk.IsEmpty && !_released)
        {
            _released = true;
            _connection.EndStreamedRead(Kind, _length, skipRest: false);
        }
    }

    private void Release()
    {
        if (!_released)
        {
            _released = true;
            _connection.EndStreamedRead(Kind, -1, skipRest: !_lastChunk);
        }
    }

    /// <summary>Not supported: use <see cref="ReadAsync(Memory{byte}, CancellationToken)"/> (see the remarks).</summary>
    public override int Read(byte[] buffer, int offset, int count) =>
        throw new NotSupportedException("Read a WebSocket message stream asynchronously (ReadAsync, CopyToAsync).");

    /// <summary>Not supported.</summary>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Not supported.</summary>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Does nothing: the stream is read-only.</summary>
    public override void Flush()
    {
    }

    /// <summary>Lets go of the connection; the rest of an unfinished message is skipped by the next read.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            Release();
            _chunk = default;
        }

        base.Dispose(disposing);
    }
}
