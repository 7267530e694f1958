using System.IO.Pipelines;
using System.Net.Sockets;

namespace Tern.Transport;

/// <summary>
/// Pumps a <see cref="Transport"/> through two pipes: received bytes into <see cref="Input"/>, and bytes written to
/// <see cref="Output"/> out to the transport. No thread per connection: two async loops that hold no buffer while the
/// connection is idle.
/// </summary>
/// <remarks>
/// The output pipe never pauses its writer (its threshold is 0), so a write plus flush always completes at once and can
/// happen under a plain lock; backpressure is measured in <see cref="QueuedBytes"/> instead and applied by the caller.
/// Writes to <see cref="Output"/> must be serialized by the caller.
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

    // The send loop runs on a shared IOQueue rather than inline: the sender returns at once, and everything queued
    // before the loop gets to run goes out in one pass (frames coalesce instead of one socket send per message).
    private static readonly Dictionary<IOQueue, PipeOptions> OutputOptions = new();

    private static PipeOptions OutputOptionsFor(IOQueue queue)
    {
        lock (OutputOptions)
        {
            if (!OutputOptions.TryGetValue(queue, out PipeOptions? options))
            {
                options = new PipeOptions(
                    readerScheduler: queue,
                    writerScheduler: PipeScheduler.Inline,
                    pauseWriterThreshold: 0,
                    resumeWriterThreshold: 0,
                    minimumSegmentSize: 4096,
                    useSynchronizationContext: false);
                OutputOptions[queue] = options;
            }

            return options;
        }
    }

    private readonly Transport _transport;
    private readonly Pipe _input = new(InputOptions);
    private readonly Pipe _output = new(OutputOptionsFor(IOQueue.Next()));
    private readonly CancellationTokenSource _aborted = new();
    private readonly object _drainLock = new();
    private TaskCompletionSource? _drained;
    private long _drainThreshold;
    private long _queuedBytes;
    private long _lastReceiveTicks = Environment.TickCount64;
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private int _disposed;

    public DuplexConnection(Transport transport)
    {
        _transport = transport;
    }

    public Transport Transport => _transport;

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    /// <summary>Bytes written to the output and not yet handed to the transport.</summary>
    public long QueuedBytes => Interlocked.Read(ref _queuedBytes);

    /// <summary><see cref="Environment.TickCount64"/> when bytes last arrived: any data is a sign of life.</summary>
    public long LastReceiveTicks => Volatile.Read(ref _lastReceiveTicks);

    /// <summary>Canceled when the connection is aborted or disposed.</summary>
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>Completes when both loops have ended.</summary>
    public Task Completion => Task.WhenAll(_receiving, _sending);

    public void Start()
    {
        _receiving = ReceiveLoopAsync();
        _sending = SendLoopAsync();
    }

    /// <summary>Makes what was written to <see cref="Output"/> since the last commit available to the send loop. Call under the caller's write lock.</summary>
    public void CommitOutput()
    {
        Interlocked.Add(ref _queuedBytes, _output.Writer.UnflushedBytes);
        ValueTask<FlushResult> flush = _output.Writer.FlushAsync(CancellationToken.None);
        // With no pause threshold a flush never waits; consume the result to honour the ValueTask contract.
        if (flush.IsCompleted)
        {
            flush.GetAwaiter().GetResult();
        }
        else
        {
            _ = flush.AsTask();
        }
    }

    /// <summary>Waits until at most <paramref name="threshold"/> bytes are queued, or the connection ends.</summary>
    public Task WaitForDrainAsync(long threshold, CancellationToken cancellationToken)
    {
        lock (_drainLock)
        {
            if (QueuedBytes <= threshold || _aborted.IsCancellationRequested)
            {
                return Task.CompletedTask;
            }

            _drainThreshold = threshold;
            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task.WaitAsync(cancellationToken);
        }
    }

    private void SignalDrained(bool force)
    {
        if (Volatile.Read(ref _drained) is null)
        {
            return;
        }

        lock (_drainLock)
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
                FlushResult flushed = await writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
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

    private async Task SendLoopAsync()
    {
        await Task.Yield();
        PipeReader reader = _output.Reader;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(CancellationToken.None).ConfigureAwait(false);
                System.Buffers.ReadOnlySequence<byte> buffer = result.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    await _transport.SendAsync(segment, CancellationToken.None).ConfigureAwait(false);
                }

                // Measure before AdvanceTo: it recycles the segments a multi-segment length is computed from.
                long sent = buffer.Length;
                reader.AdvanceTo(buffer.End);
                Interlocked.Add(ref _queuedBytes, -sent);
                SignalDrained(force: false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException)
        {
            // The peer vanished: what is queued cannot be delivered. Stop reading too. This loop may be running inline
            // inside a sender's lock, so the cancellation callbacks (which may be application code) run elsewhere.
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.CancelAborted(), this, preferLocal: false);
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            SignalDrained(force: true);
        }
    }

    /// <summary>
    /// Sends everything written so far, then half-closes (TCP FIN). Bounded by <paramref name="timeout"/>; returns
    /// false if the bytes could not all be sent in time.
    /// </summary>
    public async Task<bool> CompleteOutputAsync(TimeSpan timeout)
    {
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        bool sent = await _sending.WaitAsync(timeout).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default).ConfigureAwait(false);
        if (sent && !_aborted.IsCancellationRequested)
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

    private void CancelAborted()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
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
        // The loops wait without cancellation tokens (a registration per pending wait costs memory on every idle
        // connection): disposing the transport fails their socket calls, and these wake their pipe waits.
        _input.Writer.CancelPendingFlush();
        _output.Reader.CancelPendingRead();
        _input.Reader.CancelPendingRead();
    }
}
