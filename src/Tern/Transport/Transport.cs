using System.Net;
using System.Net.Sockets;

namespace Tern.Transport;

/// <summary>A byte stream under a connection: a plain socket (<see cref="SocketTransport"/>), or TLS over one (<see cref="TlsTransport"/>).</summary>
internal abstract class Transport : IDisposable
{
    public abstract IPEndPoint RemoteEndPoint { get; }

    public abstract IPEndPoint LocalEndPoint { get; }

    /// <summary>Whether the bytes travel encrypted (TLS).</summary>
    public virtual bool IsSecure => false;

    /// <summary>Receives into <paramref name="buffer"/>; 0 means the peer closed its side.</summary>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends all of <paramref name="buffer"/>.</summary>
    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Tells the peer nothing more will be sent (TCP FIN), keeping the receive side open.</summary>
    public abstract void ShutdownSend();

    public abstract void Dispose();
}

internal sealed class SocketTransport : Transport
{
    private readonly Socket _socket;

    public SocketTransport(Socket socket)
    {
        _socket = socket;
        RemoteEndPoint = (IPEndPoint)socket.RemoteEndPoint!;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        // Synchronous calls return WouldBlock instead of waiting; asynchronous ones are unaffected. SendAsync uses it.
        socket.Blocking = false;
    }

    public override IPEndPoint RemoteEndPoint { get; }

    public override IPEndPoint LocalEndPoint { get; }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public override ValueTask SendAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        // Hand the bytes to the kernel directly first. Usually it takes them all, and then no asynchronous send state
        // (the socket's send event args, ~360 B kept for the socket's lifetime) is ever created: a connection that
        // never meets back-pressure does not carry it while idle.
        int sent = _socket.Send(buffer.Span, SocketFlags.None, out SocketError error);
        if (error == SocketError.Success && sent == buffer.Length)
        {
            return default;
        }

        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            return ValueTask.FromException(new SocketException((int)error));
        }

        return SendRemainderAsync(buffer[sent..], cancellationToken);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendRemainderAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        // The kernel's send buffer is full: wait for room. A stream socket's SendAsync completes only when every byte
        // is handed to the kernel.
        await _socket.SendAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
    }

    public override void ShutdownSend()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // The peer is already gone; closing will follow.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public override void Dispose() => _socket.Dispose();
}
