using System.Net;
using System.Net.Sockets;
using Tern.Diagnostics;
using Tern.Transport;

namespace Tern;

// Accepting sockets and running each one's session: limits, the handshake, the handler, the registry.
public sealed partial class WebSocketServer
{
    private async Task AcceptLoopAsync(Socket listener)
    {
        var backoff = new AcceptBackoff(_logger, listener.LocalEndPoint);
        ConnectionLimiter limiter = _limiter!;
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument)
            {
                return;
            }
            catch (SocketException e)
            {
                if (_stopping is not null)
                {
                    return;
                }

                // Transient (out of descriptors or buffers, a connection reset before accept): keep accepting, after a
                // pause, since retrying at once fails the same way and only burns CPU and log space.
                Interlocked.Increment(ref _acceptBackoffs);
                if (e.SocketErrorCode == SocketError.TooManyOpenSockets)
                {
                    limiter.OnOutOfDescriptors();
                }

                await Task.Delay(backoff.OnFailure(e)).ConfigureAwait(false);
                continue;
            }

            backoff.OnSuccess();
            IPAddress address;
            try
            {
                socket.NoDelay = true;
                address = ((IPEndPoint)socket.RemoteEndPoint!).Address;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Reset by the peer between accept and here.
                socket.Dispose();
                continue;
            }

            if (!limiter.TryAdmit(socket, address))
            {
                continue;
            }

            _metrics.ConnectionAccepted();

            // Counted rather than kept in a collection: shutdown only needs to know when the last session ends.
            Interlocked.Increment(ref _activeSessions);
            _ = RunSessionAsync(socket, address);
        }
    }

    /// <summary>Takes an open connection out of the registry, once; the first to do so gives back its connection slot.</summary>
    private void LeaveRegistry(WebSocketConnection connection)
    {
        if (_connections.TryRemove(connection.Id, out _))
        {
            _limiter!.Release(connection.RemoteEndPoint.Address);
        }
    }

    private async Task RunSessionAsync(Socket socket, IPAddress address)
    {
        bool handedOver = false;
        // Until the connection is registered, this method owns its slot in the connection limits.
        bool registered = false;
        DuplexConnection? io = null;
        WebSocketConnection? opened = null;
        try
        {
            await Task.Yield();
            // The TLS handshake and the HTTP request share one deadline.
            long started = Environment.TickCount64;
            try
            {
                var transport = new SocketTransport(socket);
                io = new DuplexConnection(_tls is null ? transport : new TlsTransport(transport));
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                socket.Dispose();
                return;
            }

            _handshaking.TryAdd(io, true);
            WebSocketConnection? connection = null;
            Func<WebSocketConnection, CancellationToken, Task>? handler = null;
            try
            {
                if (io.Transport is TlsTransport tls && !await AuthenticateTlsAsync(io, tls).ConfigureAwait(false))
                {
                    return;
                }

                io.Start();
                (connection, handler) = await HandshakeAsync(io, started).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Log.HandshakeFailed(_logger, e, io.Transport.RemoteEndPoint);
                io.Abort();
            }
            finally
            {
                _handshaking.TryRemove(io, out _);
            }

            if (connection is null || handler is null)
            {
                return;
            }

            _connections[connection.Id] = connection;
            registered = true;
            opened = connection;
            // The registry lists open connections: a connection leaves it as soon as it is dropped, even when its
            // handler is still running (one that ignores cancellation must not keep a dead connection counted).
            connection.OnAborted(_leaveRegistry);
            if (_stopping is not null)
            {
                // Accepted while the server was stopping: the shutdown sweep may have missed it.
                _ = CloseForShutdownAsync(connection, new CancellationTokenSource(_options.ShutdownTimeout).Token);
            }

            Log.ConnectionOpened(_logger, connection.Id, connection.RemoteEndPoint, new PeerText(connection.Path));
            _metrics.ConnectionOpened();
            // Not awaited here: this method's state is larger than the handler's part, and an open connection would
            // keep all of it alive for as long as it stays open. The session count passes to RunHandlerAsync.
            handedOver = true;
            _ = RunHandlerAsync(connection, handler);
        }
        catch (Exception e)
        {
            // Nobody awaits this method: whatever escapes it (a failing logger, an assembly that cannot be loaded
            // once descriptors run out) would vanish with the connection. Said once, and the connection is dropped.
            Log.SessionFailed(_logger, e, address);
            if (opened is not null && !handedOver)
            {
                opened.Abort(); // Leaves the registry through its OnAborted callback, giving its slot back.
            }
        }
        finally
        {
            if (!registered)
            {
                // Every path that gets here has closed the socket already; aborting again makes sure of it before
                // the slot is given back.
                if (io is null)
                {
                    socket.Dispose();
                }
                else
                {
                    io.Abort();
                }

                _limiter!.Release(address);
            }

            if (!handedOver)
            {
                EndSession();
            }
        }
    }

    private async Task RunHandlerAsync(WebSocketConnection connection, Func<WebSocketConnection, CancellationToken, Task> handler)
    {
        try
        {
            await handler(connection, connection.Aborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (connection.Aborted.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is WebSocketClosedException or IOException { InnerException: WebSocketClosedException } && connection.State != WebSocketConnectionState.Open)
        {
            // The handler tried to send after the peer left, or was reading a message as a stream when the peer left or
            // broke the protocol (already logged and answered with its close code): the end of a conversation, not a
            // server error.
            Log.HandlerSentAfterClose(_logger, connection.Id);
        }
        catch (Exception e)
        {
            Log.HandlerThrew(_logger, _connectionSettings.LogThrottles.HandlerErrors, e, connection.Id);
            await CloseQuietlyAsync(connection, WebSocketCloseCode.InternalServerError, "Internal server error").ConfigureAwait(false);
        }
        finally
        {
            try
            {
                await CloseQuietlyAsync(connection, WebSocketCloseCode.NormalClosure, null).ConfigureAwait(false);
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // A bug, but the session still ends and says so: this task is not awaited by anyone, so an exception
                // escaping it would vanish and leave the connection never reported closed.
                Log.TeardownFailed(_logger, e, connection.Id);
            }
            finally
            {
                LeaveRegistry(connection);
                Log.ConnectionClosed(_logger, connection.Id, connection.CloseInfo);
                EndSession();
            }
        }
    }

    private void EndSession()
    {
        if (Interlocked.Decrement(ref _activeSessions) == 0)
        {
            Volatile.Read(ref _allSessionsEnded)?.TrySetResult();
        }
    }

    private static async Task CloseQuietlyAsync(WebSocketConnection connection, WebSocketCloseCode code, string? reason)
    {
        try
        {
            await connection.CloseAsync(code, reason).ConfigureAwait(false);
        }
        catch (Exception)
        {
            connection.Abort();
        }
    }

    private static async Task RunCallbacksAsync(WebSocketHandler handler, WebSocketConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            if (handler.OnOpen is { } onOpen)
            {
                await onOpen(connection).ConfigureAwait(false);
            }

            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken).ConfigureAwait(false))
            {
                if (handler.OnMessage is { } onMessage)
                {
                    await onMessage(connection, message).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            if (handler.OnError is { } onError)
            {
                await onError(connection, e).ConfigureAwait(false);
            }

            await CloseQuietlyAsync(connection, WebSocketCloseCode.InternalServerError, "Internal server error").ConfigureAwait(false);
        }
        finally
        {
            if (handler.OnClose is { } onClose)
            {
                await CloseQuietlyAsync(connection, WebSocketCloseCode.NormalClosure, null).ConfigureAwait(false);
                await onClose(connection, connection.CloseInfo ?? new WebSocketCloseInfo(WebSocketCloseCode.AbnormalClosure, "")).ConfigureAwait(false);
            }
        }
    }
}
