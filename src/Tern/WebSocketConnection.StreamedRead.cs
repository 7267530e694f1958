namespace Tern;

// Streamed reads: one message handed out in chunks as it arrives, through a WebSocketMessageReader.
public sealed partial class WebSocketConnection
{
    /// <summary>Whether the chunk in <see cref="_received"/> is its message's last.</summary>
    private bool _receivedEnd;

    /// <summary>A streamed message's reader let go before its end: the next reads drop the rest of it.</summary>
    private bool _skipStreamedMessage;

    /// <summary>
    /// Waits for the next message and returns a stream over it that reads its payload as it arrives, without ever
    /// buffering it whole: for messages too large to hold, or to process while they come in. Returns null when the
    /// connection is done (as <see cref="ReadMessagesAsync"/> ends; see <see cref="CloseInfo"/>).
    /// </summary>
    /// <remarks>
    /// The reader is this connection's reader until its last byte is read or it is disposed (<c>await using</c>):
    /// meanwhile another <see cref="ReadMessageStreamAsync"/> or <see cref="ReadMessagesAsync"/> throws
    /// <see cref="InvalidOperationException"/>. Pings are answered and the peer's close handled as it reads. Each
    /// message holds at most one chunk (64 KiB) of memory; <see cref="WebSocketServerOptions.MaxMessageSize"/> still
    /// bounds its total (inflated) size, and a larger message ends the connection with 1009 once the limit is passed.
    /// </remarks>
    /// <param name="cancellationToken">Ends the wait for the message's first bytes with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidOperationException">Another reader is reading this connection.</exception>
    public async ValueTask<WebSocketMessageReader?> ReadMessageStreamAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.CompareExchange(ref _readerActive, 1, 0) != 0)
        {
            throw new InvalidOperationException("Only one reader at a time may read a WebSocket connection.");
        }

        bool started = false;
        try
        {
            if (!await ReceiveAsync(deliverMessages: true, streaming: true, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            started = true;
            return new WebSocketMessageReader(this, _received.Kind, _received.Data, _receivedEnd);
        }
        finally
        {
            if (!started)
            {
                Volatile.Write(ref _readerActive, 0);
            }
        }
    }

    /// <summary>Reads the next chunk of the streamed message (into <see cref="ReceivedChunk"/>); false when the connection is done.</summary>
    internal ValueTask<bool> ReceiveChunkAsync(CancellationToken cancellationToken) =>
        ReceiveAsync(deliverMessages: true, streaming: true, cancellationToken);

    /// <summary>The chunk the last receive produced, and whether it ends its message.</summary>
    internal (ReadOnlyMemory<byte> Chunk, bool Last) ReceivedChunk => (_received.Data, _receivedEnd);

    /// <summary>A streamed read is over: its message was read out (<paramref name="length"/> bytes) or abandoned.</summary>
    internal void EndStreamedRead(WebSocketMessageKind kind, long length, bool skipRest)
    {
        if (length >= 0)
        {
            _settings.Metrics?.MessageReceived(kind, (int)Math.Min(length, int.MaxValue));
        }

        _skipStreamedMessage = skipRest;
        Volatile.Write(ref _readerActive, 0);
    }
}
