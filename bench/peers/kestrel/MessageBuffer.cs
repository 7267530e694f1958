using System.Buffers;
using System.Net.WebSockets;

namespace Tern.Bench.Kestrel;

/// <summary>
/// Receives whole messages into one pooled buffer that grows up to <see cref="MaxMessage"/>, so echo and
/// broadcast handle a message once it is complete, as the Tern and Node ws servers do.
/// </summary>
internal sealed class MessageBuffer : IDisposable
{
    /// <summary>The same message-size limit the Tern and Node ws servers are run with.</summary>
    public const int MaxMessage = 64 * 1024 * 1024;

    private const int InitialSize = 4096;

    private byte[] buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int length;

    /// <summary>The last message received.</summary>
    public ReadOnlyMemory<byte> Payload => buffer.AsMemory(0, length);

    /// <summary>
    /// Receives the next message; returns its type, or null when the client sent a close frame.
    /// Throws <see cref="MessageTooBigException"/> past <see cref="MaxMessage"/>.
    /// </summary>
    public async ValueTask<WebSocketMessageType?> ReceiveAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                Grow();
            }

            var result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return result.MessageType;
            }
        }
    }

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);

    private void Grow()
    {
        if (buffer.Length >= MaxMessage)
        {
            throw new MessageTooBigException();
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxMessage));
        buffer.AsSpan(0, length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = larger;
    }
}

/// <summary>A message longer than <see cref="MessageBuffer.MaxMessage"/> arrived.</summary>
internal sealed class MessageTooBigException : Exception
{
    public MessageTooBigException()
        : base($"A message exceeded {MessageBuffer.MaxMessage} bytes.")
    {
    }
}
