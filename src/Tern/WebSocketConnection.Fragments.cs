using System.Buffers;
using Tern.Protocol;

namespace Tern;

// Fragmented sends: one message in several frames, and the data sends held back while it is open.
public sealed partial class WebSocketConnection
{
    /// <summary>The message being sent in fragments, or null. Under <see cref="_sendLock"/>.</summary>
    private WebSocketMessageWriter? _writer;

    /// <summary>Data sends, broadcasts and writers that arrived while <see cref="_writer"/> was open, in arrival order.</summary>
    private Queue<HeldSend>? _held;

    /// <summary>Payload bytes in <see cref="_held"/>: counted with the send queue against its limit.</summary>
    private long _heldBytes;

    private CancellationTokenRegistration _writerAbortRegistration;

    /// <summary>A send waiting for a fragmented message to end: a copy of a message, or a writer waiting for its turn.</summary>
    private sealed class HeldSend
    {
        public Opcode Opcode;
        public byte[]? Payload;
        public int Length;
        public WebSocketMessageWriter? Writer;
        public bool Abandoned;
        /// <summary>Completed when the send is queued (or fails); null for a broadcast, which nobody awaits.</summary>
        public TaskCompletionSource? Queued;
    }

    /// <summary>
    /// Starts a message to be sent in parts: write them with <see cref="WebSocketMessageWriter.WriteAsync"/> and end with
    /// <see cref="WebSocketMessageWriter.CompleteAsync"/>. Until it ends, other sends on this connection wait and
    /// broadcasts are held, then go out right after it in the order they came; its frames are never interleaved with
    /// another message's. Completes at once unless another fragmented message is open, whose end it then waits for.
    /// </summary>
    /// <param name="kind">Text or binary.</param>
    /// <param name="cancellationToken">Stops waiting for another fragmented message to end.</param>
    /// <returns>The writer; dispose it (<c>await using</c>), after completing it.</returns>
    /// <exception cref="WebSocketClosedException">The connection is closing or closed.</exception>
    /// <remarks>See <see cref="WebSocketMessageWriter"/> for compression, backpressure and what disposing an unfinished
    /// writer does.</remarks>
    public ValueTask<WebSocketMessageWriter> BeginMessageAsync(WebSocketMessageKind kind, CancellationToken cancellationToken = default)
    {
        if (kind is not (WebSocketMessageKind.Text or WebSocketMessageKind.Binary))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "A message is text or binary.");
        }

        var writer = new WebSocketMessageWriter(this, kind);
        HeldSend turn;
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                throw new WebSocketClosedException();
            }

            if (_writer is null)
            {
                StartWriterLocked(writer);
                return new ValueTask<WebSocketMessageWriter>(writer);
            }

            turn = new HeldSend { Writer = writer, Queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
            (_held ??= new Queue<HeldSend>()).Enqueue(turn);
        }

        return WaitForTurnAsync(turn, writer, cancellationToken);
    }

    private async ValueTask<WebSocketMessageWriter> WaitForTurnAsync(HeldSend turn, WebSocketMessageWriter writer, CancellationToken cancellationToken)
    {
        try
        {
            await turn.Queued!.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return writer;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            lock (_sendLock)
            {
                turn.Abandoned = true;
                if (_writer == writer)
                {
                    // The turn came as the wait was canceled: pass it on, nothing of this message was sent.
                    EndWriterLocked(completed: false);
                }
            }

            throw;
        }
    }

    private void StartWriterLocked(WebSocketMessageWriter writer)
    {
        _writer = writer;
        if (_compressor is { CompressesFragments: true } compressor)
        {
            writer.Deflater = compressor.BeginFragmentedMessage();
        }

        // A drop (abort, reset, keepalive timeout) must not leave held sends waiting for a message that will never end.
        // The callback only hops to the thread pool: it may run inside an abort on a thread holding transport locks.
        _writerAbortRegistration = _io.Aborted.UnsafeRegister(static state => ThreadPool.UnsafeQueueUserWorkItem(static connection =>
        {
            lock (connection._sendLock)
            {
                connection.FailHeldLocked();
            }
        }, (WebSocketConnection)state!, preferLocal: false), this);
    }

    /// <summary>Sends one part of <paramref name="writer"/>'s message (the last when <paramref name="endOfMessage"/>).</summary>
    internal ValueTask WriteFragment(WebSocketMessageWriter writer, ReadOnlySpan<byte> data, bool endOfMessage, CancellationToken cancellationToken)
    {
        SlowConsumerPolicy policy = _settings.SlowConsumerPolicy;
        long discarded;
        lock (_sendLock)
        {
            if (!IsOpenLocked())
            {
                throw new WebSocketClosedException();
            }

            if (_writer != writer || writer.IsCompleted)
            {
                throw new InvalidOperationException("This message is already complete.");
            }

            if (policy != SlowConsumerPolicy.Close || _io.QueuedBytes <= _settings.MaxSendQueueSize)
            {
                if (!data.IsEmpty || endOfMessage)
                {
                    WriteFragmentLocked(writer, data, endOfMessage);
                }

                if (endOfMessage)
                {
                    writer.IsCompleted = true;
                    EndWriterLocked(completed: true);
                }

                // A part cannot be dropped from a message, so under Drop a write waits like under Wait.
                return policy == SlowConsumerPolicy.Close ? default : WaitForQueueAsync(cancellationToken);
            }

            discarded = BeginSlowConsumerCloseLocked();
        }

        FinishSlowConsumerClose(discarded);
        throw new WebSocketClosedException(SlowConsumerCloseReason);
    }

    private void WriteFragmentLocked(WebSocketMessageWriter writer, ReadOnlySpan<byte> data, bool endOfMessage)
    {
        bool first = writer.FramesSent == 0;
        Opcode opcode = !first ? Opcode.Continuation : writer.Kind == WebSocketMessageKind.Text ? Opcode.Text : Opcode.Binary;
        if (writer.Deflater is not { } deflater)
        {
            WriteFrameLocked(opcode, data, fin: endOfMessage);
        }
        else
        {
            byte[] compressed = deflater.CompressFragment(data, endOfMessage, _compressor!.KeepsContext, out int length);
            try
            {
                // RSV1 marks the message compressed, on its first frame only (RFC 7692 §6.1).
                WriteFrameLocked(opcode, compressed.AsSpan(0, length), compressed: first, fin: endOfMessage);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(compressed);
            }
        }

        writer.FramesSent++;
        writer.BytesWritten += data.Length;
    }

    /// <summary>
    /// A writer is disposed before its last frame. Nothing sent: it just ends. Part of it sent: the message cannot be
    /// taken back, so the connection is closed with 1011 rather than let the peer take a truncated message as whole.
    /// </summary>
    internal void AbandonFragmentedMessage(WebSocketMessageWriter writer)
    {
        bool close = false;
        lock (_sendLock)
        {
            writer.IsCompleted = true;
            if (_writer != writer)
            {
                return;
            }

            if (writer.FramesSent > 0 && IsOpenLocked())
            {
                close = true;
                // The close frame fails the held sends: none may follow a half-sent message.
                WriteCloseLocked(_close.Close(WebSocketCloseCode.InternalServerError, AbandonedMessageReason, recordAsCloseInfo: true));
            }

            EndWriterLocked(completed: false);
        }

        if (close)
        {
            // Completes the handshake off this thread, as a slow-consumer close does: the caller is not kept waiting for the peer.
            ThreadPool.UnsafeQueueUserWorkItem(static connection => _ = connection.CloseAsync(WebSocketCloseCode.InternalServerError), this, preferLocal: false);
        }
    }

    private const string AbandonedMessageReason = "A message was abandoned before its end.";

    /// <summary>Ends the open fragmented message and lets what was held go out, up to the next writer waiting its turn.</summary>
    private void EndWriterLocked(bool completed)
    {
        WebSocketMessageWriter writer = _writer!;
        _writer = null;
        _writerAbortRegistration.Unregister();
        if (writer.Deflater is { } deflater)
        {
            writer.Deflater = null;
            _compressor!.EndFragmentedMessage(deflater, completed);
        }

        if (completed)
        {
            _settings.Metrics?.MessageSent(writer.Kind == WebSocketMessageKind.Text, (int)Math.Min(writer.BytesWritten, int.MaxValue));
        }

        while (_writer is null && _held is not null && _held.TryDequeue(out HeldSend? held))
        {
            if (held.Writer is { } next)
            {
                if (!held.Abandoned)
                {
                    StartWriterLocked(next);
                    held.Queued!.TrySetResult();
                }

                continue;
            }

            _heldBytes -= held.Length;
            if (IsOpenLocked())
            {
                WriteMessageLocked(held.Opcode, held.Payload.AsSpan(0, held.Length));
                if (held.Queued is not null)
                {
                    // A broadcast (not awaited) is counted by the server when delivered, this send here.
                    _settings.Metrics?.MessageSent(held.Opcode == Opcode.Text, held.Length);
                    held.Queued.TrySetResult();
                }
            }
            else
            {
                held.Queued?.TrySetException(new WebSocketClosedException());
            }

            ArrayPool<byte>.Shared.Return(held.Payload!);
        }
    }

    /// <summary>The connection is closing or gone: every held send fails, and writers waiting their turn never get it.</summary>
    private void FailHeldLocked()
    {
        while (_held is not null && _held.TryDequeue(out HeldSend? held))
        {
            if (held.Payload is not null)
            {
                ArrayPool<byte>.Shared.Return(held.Payload);
            }

            held.Queued?.TrySetException(new WebSocketClosedException());
        }

        _heldBytes = 0;
    }

    /// <summary>
    /// Keeps a copy of a data message that arrived while a fragmented message is open, to be queued right after it.
    /// The copy counts with the send queue against <see cref="WebSocketServerOptions.MaxSendQueueSize"/>: with
    /// <paramref name="enforceLimit"/>, returns false when over it (the caller applies its policy). A send that is
    /// awaited gets <paramref name="queued"/>, completed when it is queued; a broadcast is not awaited.
    /// </summary>
    private bool TryHoldLocked(Opcode opcode, ReadOnlySpan<byte> payload, bool enforceLimit, bool awaited, out Task? queued)
    {
        queued = null;
        if (enforceLimit && _io.QueuedBytes + _heldBytes > _settings.MaxSendQueueSize)
        {
            return false;
        }

        byte[] copy = ArrayPool<byte>.Shared.Rent(payload.Length);
        payload.CopyTo(copy);
        var held = new HeldSend { Opcode = opcode, Payload = copy, Length = payload.Length };
        if (awaited)
        {
            held.Queued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            queued = held.Queued.Task;
        }

        (_held ??= new Queue<HeldSend>()).Enqueue(held);
        _heldBytes += payload.Length;
        return true;
    }

    /// <summary>What a held send's caller awaits: its turn to be queued, then (under Wait) the queue draining.</summary>
    private async ValueTask WaitForHeldSendAsync(Task queued, bool waitForDrain, CancellationToken cancellationToken)
    {
        await queued.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (waitForDrain)
        {
            await WaitForQueueAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
