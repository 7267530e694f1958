using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using Tern.Protocol;

namespace Tern;

// Receiving: the reader that drives the decoder, delivers messages and answers control frames.
public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Reads messages as they arrive, until the peer closes the connection (the enumeration then ends normally; see
    /// <see cref="CloseInfo"/>). Pings are answered and the close handshake is completed along the way. A protocol
    /// violation by the peer closes the connection with the right code and ends the enumeration.
    /// </summary>
    /// <remarks>
    /// Each message's data is valid until the next message is requested. An enumeration is this connection's reader
    /// from its first read until it is disposed (<c>await foreach</c> disposes it).
    /// </remarks>
    /// <param name="cancellationToken">Ends the wait for the next message with <see cref="OperationCanceledException"/>.</param>
    /// <exception cref="InvalidOperationException">Another enumeration is already reading this connection.</exception>
    public IAsyncEnumerable<WebSocketMessage> ReadMessagesAsync(CancellationToken cancellationToken = default) =>
        new MessageStream(this, cancellationToken);

    /// <summary>Reads until one data message is ready (true), or the connection is done (false).</summary>
    /// <remarks>
    /// One receive at a time: the enumeration and a closing handshake may both want to read. The enumeration holds the
    /// receive only while reading, not while paused in its consumer's loop body.
    /// </remarks>
    /// <param name="deliverMessages">False to drop data messages (while closing).</param>
    /// <param name="streaming">Hand messages that start now out in chunks (see <see cref="ReadMessageStreamAsync"/>).</param>
    /// <param name="cancellationToken">Ends the wait for input.</param>
    private ValueTask<bool> ReceiveAsync(bool deliverMessages, bool streaming, CancellationToken cancellationToken)
    {
        if (Interlocked.CompareExchange(ref _receiving, 1, 0) != 0)
        {
            return WaitForCloseHandshakeAsync(cancellationToken);
        }

        _decoder.StreamMessages = streaming;

        // Not wrapped in another async method: the state of every pending receive stays allocated while the
        // connection is idle, so one state machine, not two.
        return ReceiveLockedAsync(deliverMessages, releaseReceiving: true, cancellationToken);
    }

    private async ValueTask<bool> WaitForCloseHandshakeAsync(CancellationToken cancellationToken)
    {
        // A CloseAsync is reading the closing handshake: once it has seen the peer's close, nothing is left to deliver.
        await WaitForPeerCloseAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>The receive itself, for a caller that set <see cref="_receiving"/>.</summary>
    /// <param name="deliverMessages">False to drop data messages (while closing).</param>
    /// <param name="releaseReceiving">Clear <see cref="_receiving"/> when done (else the caller does).</param>
    /// <param name="cancellationToken">Ends the wait for input.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReceiveLockedAsync(bool deliverMessages, bool releaseReceiving, CancellationToken cancellationToken)
    {
        try
        {
            PipeReader input = _io.Input;
            // The connection's own token needs no registration: an abort already wakes these waits.
            CancellationToken token = cancellationToken == _io.Aborted ? CancellationToken.None : cancellationToken;
            while (!_decoder.IsFinished)
            {
                if (_io.QueuedBytes > _settings.MaxSendQueueSize)
                {
                    // Backpressure on the reader: the peer is not taking what we send, so stop taking what it sends.
                    // Its messages and pings wait in the kernel, TCP flow control slows it down, and memory stays
                    // bounded by the limit.
                    await _io.WaitForDrainAsync(_settings.MaxSendQueueSize, token).ConfigureAwait(false);
                }

                if (SendPendingPong())
                {
                    // Still held back behind a pong in flight: have its departure wake this read (see WakeForPongAsync).
                    ArmPongWake();
                }

                // The previous message is used up (the application asked for the next): its buffer goes back now, not
                // when the peer next sends something.
                _decoder.ReleaseIdleBuffers();
                ReadResult result;
                try
                {
                    result = await input.ReadAsync(token).ConfigureAwait(false);
                }
                catch (InvalidOperationException)
                {
                    // The input was completed by DisposeAsync.
                    OnEndOfStream();
                    return false;
                }

                if (result.IsCanceled)
                {
                    if (Interlocked.Exchange(ref _pongWake, PongWakeIdle) == PongWakeFired && !_io.Aborted.IsCancellationRequested)
                    {
                        // Not the end: the pong ahead of the held-back one has left, so that one can go now.
                        continue;
                    }

                    OnEndOfStream();
                    return false;
                }

                ReadOnlySequence<byte> buffer = result.Buffer;
                ProtocolEvent received;
                while (true)
                {
                    received = _decoder.Read(ref buffer);
                    if (received.Type == ProtocolEventType.Ping)
                    {
                        AnswerPing(received.Payload.Span);
                    }
                    else if (received.Type == ProtocolEventType.Pong)
                    {
                        // Liveness is tracked from every received byte; a pong needs nothing more.
                    }
                    else if (received.Type == ProtocolEventType.MessageData)
                    {
                        if (deliverMessages && State == WebSocketConnectionState.Open && _decoder.StreamMessages && !_skipStreamedMessage)
                        {
                            break;
                        }

                        // The rest of a streamed message whose reader let go of it: dropped chunk by chunk.
                        _skipStreamedMessage &= !received.EndOfMessage;
                    }
                    else if (received.Type != ProtocolEventType.Message || (deliverMessages && State == WebSocketConnectionState.Open))
                    {
                        break;
                    }
                }

                // A ping kept during this batch is answered now if the pong ahead of it has left meanwhile.
                SendPendingPong();
                if (received.Type == ProtocolEventType.NeedMoreData)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        OnEndOfStream();
                        return false;
                    }

                    continue;
                }

                input.AdvanceTo(buffer.Start);
                switch (received.Type)
                {
                    case ProtocolEventType.Message:
                        _received = new WebSocketMessage(received.MessageKind, received.Payload);
                        _receivedEnd = true;
                        _settings.Metrics?.MessageReceived(received.MessageKind, received.Payload.Length);
                        return true;
                    case ProtocolEventType.MessageData:
                        // Counted in the metrics by the reader, once the message is whole.
                        _received = new WebSocketMessage(received.MessageKind, received.Payload);
                        _receivedEnd = received.EndOfMessage;
                        return true;
                    case ProtocolEventType.Close:
                        OnPeerClose(received.CloseCode, received.Reason);
                        return false;
                    default:
                        OnProtocolError(received.CloseCode, received.Reason);
                        return false;
                }
            }

            return false;
        }
        finally
        {
            if (releaseReceiving)
            {
                Volatile.Write(ref _receiving, 0);
            }
        }
    }

    /// <summary>
    /// What <see cref="ReadMessagesAsync"/> returns: both the sequence and (the first time) its enumerator. Written by
    /// hand rather than as an async iterator because an idle connection keeps its pending read alive, and an iterator's
    /// state machine and its box cost several times this object.
    /// </summary>
    private sealed class MessageStream : IAsyncEnumerable<WebSocketMessage>, IAsyncEnumerator<WebSocketMessage>
    {
        private const int Unused = 0, Enumerating = 1, Reading = 2, Ended = 3;

        private readonly WebSocketConnection _connection;
        private readonly CancellationToken _token;
        private CancellationToken _readToken;
        private CancellationTokenSource? _linked;
        private int _state;

        public MessageStream(WebSocketConnection connection, CancellationToken token)
        {
            _connection = connection;
            _token = token;
        }

        public WebSocketMessage Current => _connection._received;

        public IAsyncEnumerator<WebSocketMessage> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            MessageStream enumerator = Interlocked.CompareExchange(ref _state, Enumerating, Unused) == Unused
                ? this
                : new MessageStream(_connection, _token) { _state = Enumerating };
            if (!cancellationToken.CanBeCanceled || cancellationToken == _token)
            {
                enumerator._readToken = _token;
            }
            else if (!_token.CanBeCanceled)
            {
                enumerator._readToken = cancellationToken;
            }
            else
            {
                enumerator._linked = CancellationTokenSource.CreateLinkedTokenSource(_token, cancellationToken);
                enumerator._readToken = enumerator._linked.Token;
            }

            return enumerator;
        }

        public ValueTask<bool> MoveNextAsync()
        {
            if (_state == Enumerating)
            {
                // The reader is claimed on the first read, not when the enumerator is made.
                if (Interlocked.CompareExchange(ref _connection._readerActive, 1, 0) != 0)
                {
                    _state = Ended;
                    return ValueTask.FromException<bool>(new InvalidOperationException("Only one reader at a time may read a WebSocket connection."));
                }

                _state = Reading;
            }

            return _state == Reading ? _connection.ReceiveAsync(deliverMessages: true, streaming: false, _readToken) : new ValueTask<bool>(false);
        }

        public ValueTask DisposeAsync()
        {
            if (_state == Reading)
            {
                Volatile.Write(ref _connection._readerActive, 0);
            }

            _state = Ended;
            _linked?.Dispose();
            return default;
        }
    }
}
