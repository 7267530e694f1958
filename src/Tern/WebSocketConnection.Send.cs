using System.Buffers;
using System.Text;
using Tern.Diagnostics;
using Tern.Protocol;

namespace Tern;

// Sending: data frames into the send queue under the slow-consumer policy, and broadcast delivery.
public sealed partial class WebSocketConnection
{
    /// <summary>Sends a text message.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        int byteCount = Encoding.UTF8.GetByteCount(text);
        byte[] rented = ArrayPool<byte>.Shared.Rent(byteCount);
        try
        {
            int written = Encoding.UTF8.GetBytes(text, rented);
            return SendMessageFrame(Opcode.Text, rented.AsSpan(0, written), cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Sends a text message given as UTF-8 bytes. The bytes are not checked: they must be valid UTF-8.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendTextAsync(ReadOnlyMemory<byte> utf8Text, CancellationToken cancellationToken = default)
    {
        return SendMessageFrame(Opcode.Text, utf8Text.Span, cancellationToken);
    }

    /// <summary>Sends a binary message.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        return SendMessageFrame(Opcode.Binary, data.Span, cancellationToken);
    }

    /// <summary>Sends a message of the same kind and content as <paramref name="message"/> (an echo, or a relay).</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask SendAsync(WebSocketMessage message, CancellationToken cancellationToken = default)
    {
        return SendMessageFrame(message.IsText ? Opcode.Text : Opcode.Binary, message.Data.Span, cancellationToken);
    }

    /// <summary>Sends a ping (at most 125 bytes of payload). The pong is handled by the reader; any data from the peer proves it alive.</summary>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    public ValueTask PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payload.Length, FrameHeader.MaxControlPayload, nameof(payload));
        WriteFrame(Opcode.Ping, payload.Span, throwIfClosed: true);
        return WaitForQueueAsync(cancellationToken);
    }

    private void WriteFrame(Opcode opcode, ReadOnlySpan<byte> payload, bool throwIfClosed)
    {
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                if (throwIfClosed)
                {
                    throw new WebSocketClosedException();
                }

                return;
            }

            WriteFrameLocked(opcode, payload);
        }
    }

    /// <summary>Whether frames may still be sent; notices a transport that failed while nobody was reading.</summary>
    private bool IsOpenLocked()
    {
        if (_close.CanSend && _io.Aborted.IsCancellationRequested)
        {
            // A send hit a reset (or the connection was dropped) and no reader has seen the end of the stream yet:
            // without this, a handler that only sends would see every send succeed, forever, on a dead socket.
            _close.StreamEnded();
        }

        return _close.CanSend;
    }

    /// <summary>Writes a data message as one frame, compressed when permessage-deflate is on and the message is long enough.</summary>
    private void WriteMessageLocked(Opcode opcode, ReadOnlySpan<byte> payload)
    {
        if (_compressor is not { } compressor || !compressor.ShouldCompress(payload.Length))
        {
            WriteFrameLocked(opcode, payload);
            return;
        }

        byte[] compressed = compressor.Compress(payload, out int length);
        try
        {
            WriteFrameLocked(opcode, compressed.AsSpan(0, length), compressed: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    private void WriteFrameLocked(Opcode opcode, ReadOnlySpan<byte> payload, bool compressed = false, bool fin = true)
    {
        FrameWriter.WriteFrame(_io.BeginOutput(), opcode, payload, fin, compressed, _maskOutgoing, _maskOutgoing ? _maskKeys.Next() : 0);
        _io.CommitOutput();
    }

    private ValueTask WaitForQueueAsync(CancellationToken cancellationToken)
    {
        if (_io.QueuedBytes <= _settings.MaxSendQueueSize)
        {
            return ValueTask.CompletedTask;
        }

        return new ValueTask(_io.WaitForDrainAsync(_settings.MaxSendQueueSize, cancellationToken));
    }

    /// <summary>
    /// Queues a data frame under the <see cref="SlowConsumerPolicy"/>, and returns what the sender should await: the
    /// queue draining under <see cref="SlowConsumerPolicy.Wait"/>, nothing otherwise.
    /// </summary>
    private ValueTask SendMessageFrame(Opcode opcode, ReadOnlySpan<byte> payload, CancellationToken cancellationToken)
    {
        SlowConsumerPolicy policy = _settings.SlowConsumerPolicy;
        long discarded;
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                throw new WebSocketClosedException();
            }

            if (_writer is not null)
            {
                // A fragmented message is open: this one waits for its end, as a copy counted with the queue.
                if (TryHoldLocked(opcode, payload, enforceLimit: policy != SlowConsumerPolicy.Wait, awaited: true, out Task? queued))
                {
                    return WaitForHeldSendAsync(queued!, waitForDrain: policy == SlowConsumerPolicy.Wait, cancellationToken);
                }
            }
            else if (policy == SlowConsumerPolicy.Wait || _io.QueuedBytes <= _settings.MaxSendQueueSize)
            {
                WriteMessageLocked(opcode, payload);
                _settings.Metrics?.MessageSent(opcode == Opcode.Text, payload.Length);
                return policy == SlowConsumerPolicy.Wait ? WaitForQueueAsync(cancellationToken) : default;
            }

            if (policy == SlowConsumerPolicy.Drop)
            {
                OnMessageDropped();
                return default;
            }

            discarded = BeginSlowConsumerCloseLocked();
        }

        FinishSlowConsumerClose(discarded);
        throw new WebSocketClosedException(SlowConsumerCloseReason);
    }

    /// <summary>
    /// Queues a broadcast message in the encoding this connection needs: the frame shared by every connection with the
    /// same outgoing settings, or (under context takeover) compressed with this connection's own deflater. Never waits:
    /// a connection over its limit gets nothing under <see cref="SlowConsumerPolicy.Drop"/>, and is closed as a slow
    /// consumer under the other policies. A connection that is closing is skipped. Returns whether it was queued.
    /// </summary>
    internal bool DeliverBroadcast(BroadcastFrames frames)
    {
        long discarded;
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                return false;
            }

            if (_writer is not null)
            {
                // Held behind the open fragmented message, and queued right after it (never interleaved).
                if (TryHoldLocked(frames.Opcode, frames.Payload, enforceLimit: true, awaited: false, out _))
                {
                    return true;
                }
            }
            else if (_io.QueuedBytes <= _settings.MaxSendQueueSize)
            {
                if (_compressor is { KeepsContext: true } compressor && compressor.ShouldCompress(frames.Payload.Length))
                {
                    WriteMessageLocked(frames.Opcode, frames.Payload);
                    return true;
                }

                ReadOnlySpan<byte> frame = frames.FrameFor(_compressor);
                IBufferWriter<byte> output = _io.BeginOutput();
                frame.CopyTo(output.GetSpan(frame.Length));
                output.Advance(frame.Length);
                _io.CommitOutput();
                return true;
            }

            if (_settings.SlowConsumerPolicy == SlowConsumerPolicy.Drop)
            {
                OnMessageDropped();
                return false;
            }

            discarded = BeginSlowConsumerCloseLocked();
        }

        FinishSlowConsumerClose(discarded);
        return false;
    }

    private const string SlowConsumerCloseReason = "Send queue limit exceeded: the client reads too slowly.";

    private void OnMessageDropped()
    {
        Log.MessageDropped(_settings.Logger, Id, _settings.MaxSendQueueSize);
        _settings.Metrics?.MessageDropped();
    }

    /// <summary>
    /// Discards the backlog the peer is not reading (but for a frame already partly sent, which must be finished) and
    /// puts a 1008 close frame in its place, so the peer learns why instead of seeing a reset.
    /// </summary>
    private long BeginSlowConsumerCloseLocked()
    {
        long discarded = _io.DiscardQueuedOutput();
        _settings.Metrics?.SlowConsumerClosed();
        // Recorded as how the connection ended: the peer's answer to it (if any) is not why it closed.
        CloseStep step = _close.Close(WebSocketCloseCode.PolicyViolation, SlowConsumerCloseReason, recordAsCloseInfo: true);
        WriteCloseLocked(step);
        return discarded;
    }

    /// <summary>Completes a slow-consumer close outside the send lock: logs it and waits (bounded) for the peer's close.</summary>
    private void FinishSlowConsumerClose(long discarded)
    {
        Log.SlowConsumerClosed(_settings.Logger, _settings.LogThrottles.SlowConsumers, Id, RemoteEndPoint, _settings.MaxSendQueueSize, discarded);
        // CloseAsync finds the close frame sent, and only waits for the peer's answer (at most the close timeout) and
        // then closes TCP. Started on the thread pool: with no reader it reads the peer's input itself, and that must
        // not happen on the thread of a broadcast, which never waits.
        ThreadPool.UnsafeQueueUserWorkItem(static connection => _ = connection.CloseAsync(WebSocketCloseCode.PolicyViolation), this, preferLocal: false);
    }
}
