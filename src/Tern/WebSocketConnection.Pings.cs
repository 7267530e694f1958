using System.Buffers;
using Tern.Diagnostics;
using Tern.Protocol;

namespace Tern;

// Pings and pongs: answering pings with a bounded queue, and the keepalive ping.
public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Answers a ping. While the send queue is short (at most <see cref="PongThreshold"/>) every ping gets its pong, in
    /// order. Beyond that the peer is not keeping up with what we send, and at most one pong waits in the queue at a
    /// time: a ping that arrives while an earlier pong is still queued is kept (replacing any kept before it) and
    /// answered once that pong has left (RFC 6455 §5.5.3 allows answering only the latest). So pongs keep flowing to a
    /// slow reader, one at a time behind its backlog, and a ping flood from a peer that never reads costs one queued pong
    /// and one kept payload, not a queue full of pongs.
    /// </summary>
    private void AnswerPing(ReadOnlySpan<byte> payload)
    {
        if (_io.QueuedBytes <= PongThreshold || !PongInFlight)
        {
            // A pong still kept is older than this one: this answer supersedes it.
            ReleasePendingPong();
            WritePong(payload);
            return;
        }

        _pendingPong ??= ArrayPool<byte>.Shared.Rent(FrameHeader.MaxControlPayload);
        payload.CopyTo(_pendingPong);
        _pendingPongLength = payload.Length;
    }

    /// <summary>Whether the last pong written is still queued, not yet handed to the socket.</summary>
    private bool PongInFlight => _io.SentTotal < Volatile.Read(ref _pongEnd);

    private void WritePong(ReadOnlySpan<byte> payload)
    {
        lock (_sendLock)
        {
            if (IsOpenLocked())
            {
                WriteFrameLocked(Opcode.Pong, payload);
                Volatile.Write(ref _pongEnd, _io.CommittedTotal);
            }
        }
    }

    /// <summary>Sends the pong kept by <see cref="AnswerPing"/> if it may go now; true if it is still kept.</summary>
    private bool SendPendingPong()
    {
        if (_pendingPong is null)
        {
            return false;
        }

        if (_io.QueuedBytes > PongThreshold && PongInFlight)
        {
            return true;
        }

        WritePong(_pendingPong.AsSpan(0, _pendingPongLength));
        ReleasePendingPong();
        return false;
    }

    /// <summary>
    /// Makes sure the reader, about to wait for input with a pong kept, wakes when the pong ahead of it leaves: the
    /// peer may be waiting for that answer and send nothing more until it comes.
    /// </summary>
    private void ArmPongWake()
    {
        if (Interlocked.CompareExchange(ref _pongWake, PongWakeArmed, PongWakeIdle) == PongWakeIdle)
        {
            _ = WakeForPongAsync(Volatile.Read(ref _pongEnd));
        }
    }

    private async Task WakeForPongAsync(long pongEnd)
    {
        await _io.WaitForSentAsync(pongEnd).ConfigureAwait(false);
        if (Interlocked.CompareExchange(ref _pongWake, PongWakeFired, PongWakeArmed) == PongWakeArmed)
        {
            // The reader's pending read returns as canceled; seeing PongWakeFired, it loops and sends the kept pong.
            try
            {
                _io.Input.CancelPendingRead();
            }
            catch (InvalidOperationException)
            {
                // The input was completed: the connection is gone, and the kept pong with it.
            }
        }
    }

    private void ReleasePendingPong()
    {
        if (_pendingPong is not null)
        {
            ArrayPool<byte>.Shared.Return(_pendingPong);
            _pendingPong = null;
        }
    }

    /// <summary>
    /// Sends a keepalive ping when the peer has been silent for the interval, and drops the peer when that ping has
    /// gone unanswered (no data at all) for the timeout.
    /// </summary>
    /// <param name="nowTicks">Now, on the <see cref="Environment.TickCount64"/> clock that stamps received data.</param>
    /// <param name="liveNowTicks">Now, on a clock that stood still while this process was stalled (see the server's keepalive pass).</param>
    /// <param name="intervalMs">Silence before a ping.</param>
    /// <param name="timeoutMs">How long a ping may go unanswered.</param>
    /// <remarks>
    /// The timeout counts from the ping actually sent, and only while the process runs: when the process is starved,
    /// the peer's answer may be waiting unread, so a stall never counts against the peer.
    /// </remarks>
    internal void KeepAliveTick(long nowTicks, long liveNowTicks, long intervalMs, long timeoutMs)
    {
        if (State != WebSocketConnectionState.Open)
        {
            return;
        }

        long silentSince = _io.LastReceiveTicks;
        bool pingOutstanding = _lastPingTicks > silentSince;
        if (pingOutstanding && liveNowTicks - _lastPingLiveTicks >= timeoutMs)
        {
            Log.KeepAliveTimeout(_settings.Logger, _settings.LogThrottles.KeepAliveTimeouts, Id, RemoteEndPoint, (liveNowTicks - _lastPingLiveTicks) / 1000.0);
            lock (_sendLock)
            {
                _close.Dropped("Keepalive timeout: the peer stopped responding.");
            }

            Abort();
            return;
        }

        if (!pingOutstanding && nowTicks - silentSince >= intervalMs)
        {
            _lastPingTicks = nowTicks;
            _lastPingLiveTicks = liveNowTicks;
            WriteFrame(Opcode.Ping, ReadOnlySpan<byte>.Empty, throwIfClosed: false);
        }
    }
}
