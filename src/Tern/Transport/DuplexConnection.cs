using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Tern.Transport;

/// <summary>
/// Pumps a <see cref="Transport"/>: a receive loop fills the input pipe, and a <see cref="SendQueue"/> takes what is
/// written with <see cref="BeginOutput"/> / <see cref="CommitOutput"/> out to the transport. No thread per connection,
/// and no buffer held while the connection is idle.
/// </summary>
/// <remarks>
/// A write never waits: backpressure is measured in <see cref="QueuedBytes"/> and applied by the caller. Writes must be
/// serialized by the caller. Replies written by the application while the receive loop hands it a batch of input are
/// corked: they leave in one send, on the receive loop's thread, once the batch is processed. Never handed out of the
/// library, so it locks on itself: a separate lock object would cost memory on every idle connection.
/// </remarks>
internal sealed class DuplexConnection
{
    private const int MinimumReceiveSize = 4096;
    private const int MaximumReceiveSize = 64 * 1024;

    // The input pipe resumes its reader inline: the receive loop runs the protocol and the application's handler on
    // its own thread, with no thread-pool hop or work-item allocation per received batch.
    private static readonly PipeOptions InputOptions = new(
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 1024 * 1024,
        resumeWriterThreshold: 512 * 1024,
        minimumSegmentSize: 4096,
        useSynchronizationContext: false);

    private readonly Transport _transport;
    private readonly Pipe _input = new(InputOptions);
    private readonly SendQueue _output;
    private readonly CancellationTokenSource _aborted = new();
    private TaskCompletionSource? _drained;
    private long _drainThreshold;
    private TaskCompletionSource? _sentPast;
    private long _sentTarget;
    private long _lastReceiveTicks = Environment.TickCount64;
    private Task _receiving = Task.CompletedTask;
    private int _corkedThread;
    private int _disposed;
    private Action<object?>? _onAborted;
    private object? _onAbortedState;

    public DuplexConnection(Transport transport)
    {
        _transport = transport;
        _output = new SendQueue(transport, this);
    }

    public Transport Transport => _transport;

    /// <summary>Loads the code a connection uses (see WebSocketServer.LoadConnectionCode): its pipe and its send queue's IOQueue.</summary>
    public static void LoadCode()
    {
        var pipe = new Pipe(InputOptions);
        pipe.Writer.Complete();
        pipe.Reader.Complete();
        _ = IOQueue.Next();
    }

    public PipeReader Input => _input.Reader;

    /// <summary>Bytes written to the output and not yet handed to the transport.</summary>
    public long QueuedBytes => _output.QueuedBytes;

    /// <summary>The output position just past the last write (see <see cref="WaitForSentAsync"/>).</summary>
    public long CommittedTotal => _output.CommittedTotal;

    /// <summary>The output position up to which everything has been handed to the transport.</summary>
    public long SentTotal => _output.SentTotal;

    /// <summary><see cref="Environment.TickCount64"/> when bytes last arrived: any data is a sign of life.</summary>
    public long LastReceiveTicks => Volatile.Read(ref _lastReceiveTicks);

    /// <summary>Canceled when the connection is aborted or disposed.</summary>
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>Completes when the receive loop has ended (the peer closed, or the connection was aborted).</summary>
    public Task Completion => _receiving;

    public void Start()
    {
        _receiving = ReceiveLoopAsync();
    }

    /// <summary>Starts a write: append to the returned writer, then call <see cref="CommitOutput"/>. Calls must be serialized by the caller.</summary>
    public IBufferWriter<byte> BeginOutput()
    {
        _output.BeginWrite();
        return _output;
    }

    /// <summary>Ends a write started by <see cref="BeginOutput"/> and sees that it gets sent.</summary>
    public void CommitOutput()
    {
        // On the receive loop's thread while it hands input to the application, replies wait for the end of the batch.
        bool corked = Volatile.Read(ref _corkedThread) == Environment.CurrentManagedThreadId;
        _output.Commit(corked ? SendMode.Deferred : SendMode.Queued);
    }

    internal void OnSent(bool failed)
    {
        if (failed)
        {
            // The peer vanished: what is queued cannot be delivered. Stop reading too.
            CancelAborted();
            SignalDrained(force: true);
        }
        else
        {
            SignalDrained(force: false);
        }

        SignalSent(force: failed);
    }

    /// <summary>
    /// Waits until the output up to <paramref name="position"/> (a <see cref="CommittedTotal"/> taken after a write) has
    /// been handed to the transport, or the connection ends. One waiter at a time.
    /// </summary>
    public Task WaitForSentAsync(long position)
    {
        lock (this)
        {
            if (SentTotal >= position || _aborted.IsCancellationRequested)
            {
                return Task.CompletedTask;
            }

            _sentTarget = position;
            TaskCompletionSource sent = _sentPast ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // The sender advances SentTotal and then looks for a waiter without this lock (see WaitForDrainAsync).
            Interlocked.MemoryBarrier();
            if (SentTotal >= position)
            {
                _sentPast = null;
                sent.TrySetResult();
            }

            return sent.Task;
        }
    }

    private void SignalSent(bool force)
    {
        if (Volatile.Read(ref _sentPast) is null)
        {
            return;
        }

        lock (this)
        {
            if (_sentPast is not null && (force || SentTotal >= _sentTarget))
            {
                _sentPast.TrySetResult();
                _sentPast = null;
            }
        }
    }

    /// <summary>
    /// Drops the output not yet handed to the transport, but for the rest of a write already partly sent; returns the
    /// bytes dropped. Callers must hold off other writers meanwhile (see <see cref="SendQueue.DiscardUnsent"/>).
    /// </summary>
    public long DiscardQueuedOutput()
    {
        long dropped = _output.DiscardUnsent();
        SignalDrained(force: false);
        return dropped;
    }

    /// <summary>Waits until at most <paramref name="threshold"/> bytes are queued, or the connection ends.</summary>
    public Task WaitForDrainAsync(long threshold, CancellationToken cancellationToken)
    {
        lock (this)
        {
            if (QueuedBytes <= threshold || _aborted.IsCancellationRequested)
            {
                return Task.CompletedTask;
            }

            // Several waiters share one signal: keep the lowest threshold, which satisfies them all.
            _drainThreshold = _drained is null ? threshold : Math.Min(_drainThreshold, threshold);
            TaskCompletionSource drained = _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            // The sender decrements the count and then looks for a waiter without taking this lock: publish the waiter,
            // then look at the count again, or a last send finishing in between would never wake it.
            Interlocked.MemoryBarrier();
            if (QueuedBytes <= _drainThreshold)
            {
                _drained = null;
                drained.TrySetResult();
            }

            return drained.Task.WaitAsync(cancellationToken);
        }
    }

    private void SignalDrained(bool force)
    {
        if (Volatile.Read(ref _drained) is null)
        {
            return;
        }

        lock (this)
        {
            if (_drained is not null && (force || QueuedBytes <= _drainThreshold))
            {
                _drained.TrySetResult();
                _drained = null;
            }
        }
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        PipeWriter writer = _input.Writer;
        try
        {
            bool moreLikely = false;
            int receiveSize = MinimumReceiveSize;
            while (true)
            {
                if (!moreLikely)
                {
                    // Wait for data with an empty buffer first, so an idle connection holds no receive buffer.
                    await _transport.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                }

                Memory<byte> memory = writer.GetMemory(receiveSize);
                int received = await _transport.ReceiveAsync(memory, CancellationToken.None).ConfigureAwait(false);
                if (received == 0)
                {
                    break;
                }

                // A full buffer suggests more is already waiting: skip the zero-byte wait next time, and ask for a
                // bigger buffer (fewer receive calls for large messages); small reads shrink it back.
                moreLikely = received == memory.Length;
                receiveSize = moreLikely ? Math.Min(receiveSize * 2, MaximumReceiveSize) : MinimumReceiveSize;

                Volatile.Write(ref _lastReceiveTicks, Environment.TickCount64);
                writer.Advance(received);
                // The input pipe resumes its reader inline, so the application processes this batch inside FlushAsync;
                // its replies are corked meanwhile and go out together right after, from this thread.
                Volatile.Write(ref _corkedThread, Environment.CurrentManagedThreadId);
                ValueTask<FlushResult> flushing = writer.FlushAsync(CancellationToken.None);
                Volatile.Write(ref _corkedThread, 0);
                _output.Flush(SendMode.Inline);
                FlushResult flushed = await flushing.ConfigureAwait(false);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // A reset or an abort ends the stream like a close would; the protocol layer reports it as 1006.
        }
        finally
        {
            await writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Sends everything written so far, then half-closes (TCP FIN). Bounded by <paramref name="timeout"/>; returns
    /// false if the bytes could not all be sent in time.
    /// </summary>
    public async Task<bool> CompleteOutputAsync(TimeSpan timeout)
    {
        bool sent;
        try
        {
            using var timer = new CancellationTokenSource(timeout);
            await WaitForDrainAsync(0, timer.Token).ConfigureAwait(false);
            sent = QueuedBytes == 0 && !_aborted.IsCancellationRequested;
        }
        catch (OperationCanceledException)
        {
            sent = false;
        }

        if (sent)
        {
            _transport.ShutdownSend();
        }

        return sent;
    }

    /// <summary>Waits for the peer to close its side (after ours is closed), discarding what it still sends, up to <paramref name="timeout"/>.</summary>
    public async Task DrainInputAsync(TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                ReadResult result = await _input.Reader.ReadAsync(timer.Token).ConfigureAwait(false);
                _input.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (InvalidOperationException)
        {
            // Another reader is still attached; the abort that follows ends it.
        }
    }

    /// <summary>
    /// Calls <paramref name="callback"/> once when the connection is aborted, or at once if it already is. A plain
    /// callback rather than a registration on <see cref="Aborted"/>, which would cost memory on every open connection.
    /// </summary>
    public void OnAborted(Action<object?> callback, object? state)
    {
        _onAbortedState = state;
        Volatile.Write(ref _onAborted, callback);
        if (_aborted.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _onAborted, null)?.Invoke(state);
        }
    }

    private void CancelAborted()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        Interlocked.Exchange(ref _onAborted, null)?.Invoke(_onAbortedState);
    }

    /// <summary>Drops the connection at once: pending output is discarded and both loops end.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        CancelAborted();
        _transport.Dispose();
        // The receive loop waits without a cancellation token (a registration per pending wait costs memory on every
        // idle connection): disposing the transport fails its socket call, and these wake its pipe waits.
        _input.Writer.CancelPendingFlush();
        _input.Reader.CancelPendingRead();
        SignalDrained(force: true);
        SignalSent(force: true);
    }
}
