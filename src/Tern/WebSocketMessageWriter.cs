using Tern.Protocol;

namespace Tern;

/// <summary>
/// One message sent in parts (fragments, RFC 6455 §5.4), from <see cref="WebSocketConnection.BeginMessageAsync"/>:
/// each <see cref="WriteAsync"/> sends one frame, <see cref="CompleteAsync"/> sends the last one.
/// </summary>
/// <remarks>
/// <para>While the message is open it owns the connection's data stream: other sends wait for it to end (they do not
/// fail) and broadcasts are held and queued right after it, in the order they came. Pongs and a close frame may go out
/// between its frames, as RFC 6455 allows. So complete it promptly, and always: use <c>await using</c> and call
/// <see cref="CompleteAsync"/> at the end. Awaiting another send on the same connection before completing it would wait
/// for its end forever.</para>
/// <para><b>Disposing without completing</b> abandons the message. If none of it was sent, nothing happens. If part of
/// it was, there is no way to take it back on the wire, and ending it would hand the peer a truncated message as if it
/// were whole, so the connection is closed with 1011 (Internal Server Error) instead.</para>
/// <para><b>Text</b> is not checked: the concatenation of the parts must be valid UTF-8 (a character may be split
/// between parts).</para>
/// <para><b>Compression.</b> With permessage-deflate negotiated the whole message is compressed as one (RSV1 on its
/// first frame; each part flushed so the peer can inflate it on arrival), whatever its size.</para>
/// <para><b>Backpressure</b> is the connection's: under <see cref="SlowConsumerPolicy.Wait"/> (and
/// <see cref="SlowConsumerPolicy.Drop"/>, since a part cannot be dropped from a message) a write waits while more than
/// <see cref="WebSocketServerOptions.MaxSendQueueSize"/> bytes are queued; under <see cref="SlowConsumerPolicy.Close"/>
/// a write over the limit closes the connection with 1008.</para>
/// <para>One call at a time: a writer is not meant to be used from several threads at once.</para>
/// </remarks>
public sealed class WebSocketMessageWriter : IAsyncDisposable
{
    private readonly WebSocketConnection _connection;

    internal WebSocketMessageWriter(WebSocketConnection connection, WebSocketMessageKind kind)
    {
        _connection = connection;
        Kind = kind;
    }

    /// <summary>Text or binary: the kind the message's first frame announces.</summary>
    public WebSocketMessageKind Kind { get; }

    /// <summary>True once <see cref="CompleteAsync"/> sent the last frame, or the writer was disposed.</summary>
    public bool IsCompleted { get; internal set; }

    /// <summary>Payload bytes given so far (before compression).</summary>
    public long BytesWritten { get; internal set; }

    /// <summary>Frames sent so far (internal: a writer that sent none can be abandoned quietly).</summary>
    internal int FramesSent { get; set; }

    /// <summary>The deflater compressing this message, when the connection compresses.</summary>
    internal Deflater? Deflater { get; set; }

    /// <summary>
    /// Sends <paramref name="data"/> as the message's next frame (the first carries the message's kind). An empty
    /// <paramref name="data"/> sends nothing.
    /// </summary>
    /// <param name="data">The next part of the message.</param>
    /// <param name="cancellationToken">Stops waiting for the send queue to drain (the frame is already queued).</param>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    /// <exception cref="InvalidOperationException">The message is already complete.</exception>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        _connection.WriteFragment(this, data.Span, endOfMessage: false, cancellationToken);

    /// <summary>
    /// Ends the message: sends <paramref name="finalData"/> (possibly empty) as its last frame. Other sends held meanwhile
    /// go out right after it.
    /// </summary>
    /// <param name="finalData">The message's last part, or nothing.</param>
    /// <param name="cancellationToken">Stops waiting for the send queue to drain (the frame is already queued).</param>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    /// <exception cref="InvalidOperationException">The message is already complete.</exception>
    public ValueTask CompleteAsync(ReadOnlyMemory<byte> finalData = default, CancellationToken cancellationToken = default) =>
        _connection.WriteFragment(this, finalData.Span, endOfMessage: true, cancellationToken);

    /// <summary>
    /// Ends the writer. After <see cref="CompleteAsync"/> this does nothing; before it, the message is abandoned (see
    /// the remarks: the connection is closed with 1011 if part of the message was sent).
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (!IsCompleted)
        {
            _connection.AbandonFragmentedMessage(this);
        }

        return default;
    }
}
