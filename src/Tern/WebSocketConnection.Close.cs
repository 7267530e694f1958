using Tern.Diagnostics;
using Tern.Protocol;

namespace Tern;

// Closing: the closing handshake from either side, protocol errors, and the end of the stream.
public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Starts the closing handshake: sends a close frame, waits (at most the close timeout) for the peer's close frame,
    /// then closes the TCP connection. Returns when the connection is closed. Does nothing if it is already closing.
    /// </summary>
    /// <param name="code">1000–1003, 1007–1011 or an application code 3000–4999.</param>
    /// <param name="reason">Optional reason, at most 123 UTF-8 bytes.</param>
    /// <param name="cancellationToken">Stops waiting for the peer; the connection is then dropped.</param>
    /// <remarks>
    /// May be called from any thread, including from the body of a <see cref="ReadMessagesAsync"/> loop or a
    /// <see cref="WebSocketHandler.OnMessage"/> callback: it then reads the peer's close itself. Data the peer still
    /// sends after the close frame is discarded, and may overwrite the data of the message being handled, so use that
    /// message before closing.
    /// </remarks>
    public async Task CloseAsync(WebSocketCloseCode code = WebSocketCloseCode.NormalClosure, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (!CloseFrame.IsValidOnWire((int)code))
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, "Close codes sent must be 1000–1003, 1007–1011 or 3000–4999.");
        }

        if (!CloseFrame.FitsReason(reason))
        {
            throw new ArgumentException("A close reason is limited to 123 UTF-8 bytes.", nameof(reason));
        }

        CloseStep step;
        lock (_sendLock)
        {
            step = _close.Close(code, reason);
            WriteCloseLocked(step);
        }

        if (step.SendCloseFrame)
        {
            Log.Closing(_settings.Logger, Id, (int)code);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_settings.CloseTimeout);
        if (Interlocked.CompareExchange(ref _receiving, 1, 0) == 0)
        {
            try
            {
                // Nobody is receiving (no reader, or a ReadMessagesAsync loop paused in its body, perhaps the caller of
                // this very method), so this call reads until the peer's close arrives, answering pings, dropping data.
                while (await ReceiveLockedAsync(deliverMessages: false, releaseReceiving: false, timeout.Token).ConfigureAwait(false))
                {
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                Volatile.Write(ref _receiving, 0);
            }
        }
        else
        {
            try
            {
                // A reader is in the middle of a receive: it sees the peer's close.
                await WaitForPeerCloseAsync().WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        if (!Volatile.Read(ref _peerCloseSeen))
        {
            Log.NoCloseInTime(_settings.Logger, Id);
            Abort();
        }

        await _finishing.ConfigureAwait(false);
        await Completion.ConfigureAwait(false);
    }

    /// <summary>Records that reading is over (close frame, protocol error, end of stream or abort), waking a waiting <see cref="CloseAsync"/>.</summary>
    private void MarkPeerCloseSeen()
    {
        TaskCompletionSource? waiter;
        lock (_sendLock)
        {
            _peerCloseSeen = true;
            waiter = _peerCloseWaiter;
        }

        waiter?.TrySetResult();
    }

    private Task WaitForPeerCloseAsync()
    {
        lock (_sendLock)
        {
            // Created only when someone waits, so an open connection carries no task for it.
            return _peerCloseSeen ? Task.CompletedTask : (_peerCloseWaiter ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    private void OnPeerClose(WebSocketCloseCode code, string reason)
    {
        CloseStep step;
        lock (_sendLock)
        {
            step = _close.PeerClosed(code, reason);
            WriteCloseLocked(step);
        }

        Log.PeerClosed(_settings.Logger, Id, (int)code, new PeerText(reason));
        _settings.Metrics?.CloseReceived(code);
        Finish(step);
        MarkPeerCloseSeen();
    }

    private void OnProtocolError(WebSocketCloseCode code, string reason)
    {
        CloseStep step;
        lock (_sendLock)
        {
            step = _close.ProtocolError(code, reason);
            WriteCloseLocked(step);
        }

        Log.ProtocolErrorClose(_settings.Logger, _settings.LogThrottles.ProtocolErrors, Id, RemoteEndPoint, code, reason);
        Finish(step);
        MarkPeerCloseSeen();
    }

    private void OnEndOfStream()
    {
        bool wasOpen;
        lock (_sendLock)
        {
            wasOpen = _close.StreamEnded();
        }

        if (wasOpen)
        {
            Log.DroppedWithoutClose(_settings.Logger, Id);
        }

        MarkPeerCloseSeen();
        _io.Abort();
    }

    private void Finish(CloseStep step)
    {
        switch (step.Finish)
        {
            case CloseFinish.CloseNow:
                _finishing = FinishAsync(waitForPeer: false);
                break;
            case CloseFinish.CloseAfterPeerFinishes:
                _finishing = FinishAsync(waitForPeer: true);
                break;
            case CloseFinish.Drop:
                _io.Abort();
                break;
        }
    }

    /// <summary>Sends what is queued (our close frame last), half-closes, optionally waits for the peer to close its side, then releases the socket.</summary>
    private async Task FinishAsync(bool waitForPeer)
    {
        try
        {
            bool flushed = await _io.CompleteOutputAsync(_settings.CloseTimeout).ConfigureAwait(false);
            if (flushed && waitForPeer)
            {
                await _io.DrainInputAsync(_settings.CloseTimeout).ConfigureAwait(false);
            }
        }
        finally
        {
            _io.Abort();
        }
    }

    private void WriteCloseLocked(CloseStep step)
    {
        if (step.SendCloseFrame)
        {
            WriteCloseLocked(step.Code, step.Reason);
        }
    }

    private void WriteCloseLocked(WebSocketCloseCode code, string? reason)
    {
        FrameWriter.WriteClose(_io.BeginOutput(), code, reason, _maskOutgoing, _maskOutgoing ? _maskKeys.Next() : 0);
        _io.CommitOutput();
        // Nothing may follow a close frame: sends held behind a fragmented message fail now.
        FailHeldLocked();
        _settings.Metrics?.CloseSent(code);
    }
}
