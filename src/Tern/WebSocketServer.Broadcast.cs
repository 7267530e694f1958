using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Tern.Protocol;

namespace Tern;

// Broadcast: a message encoded once and queued on many connections, never waiting on a slow one.
public sealed partial class WebSocketServer
{
    /// <summary>
    /// Sends a text message to every open connection, or to <paramref name="connections"/>. The frame is encoded once.
    /// Never waits on a slow client: a connection whose send queue is over <see cref="WebSocketServerOptions.MaxSendQueueSize"/>
    /// gets nothing under <see cref="SlowConsumerPolicy.Drop"/> and is closed with 1008 otherwise, and connections that are
    /// closing are skipped.
    /// </summary>
    public ValueTask BroadcastTextAsync(string text, IEnumerable<WebSocketConnection>? connections = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] utf8 = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetByteCount(text));
        try
        {
            int length = Encoding.UTF8.GetBytes(text, utf8);
            BroadcastFrame(Opcode.Text, utf8.AsSpan(0, length), connections);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(utf8);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Sends a text message given as UTF-8 bytes (not checked: they must be valid) to every open connection, or to <paramref name="connections"/>; see <see cref="BroadcastTextAsync(string, IEnumerable{WebSocketConnection}?, CancellationToken)"/>.</summary>
    public ValueTask BroadcastTextAsync(ReadOnlyMemory<byte> utf8Text, IEnumerable<WebSocketConnection>? connections = null, CancellationToken cancellationToken = default)
    {
        BroadcastFrame(Opcode.Text, utf8Text.Span, connections);
        return ValueTask.CompletedTask;
    }

    /// <summary>Sends a binary message to every open connection, or to <paramref name="connections"/>; see <see cref="BroadcastTextAsync(string, IEnumerable{WebSocketConnection}?, CancellationToken)"/>.</summary>
    public ValueTask BroadcastBinaryAsync(ReadOnlyMemory<byte> data, IEnumerable<WebSocketConnection>? connections = null, CancellationToken cancellationToken = default)
    {
        BroadcastFrame(Opcode.Binary, data.Span, connections);
        return ValueTask.CompletedTask;
    }

    private void BroadcastFrame(Opcode opcode, ReadOnlySpan<byte> payload, IEnumerable<WebSocketConnection>? connections)
    {
        // Server frames are unmasked, so one encoding serves every receiver.
        BroadcastFrames frames = BroadcastFrames.Rent(opcode, payload, _options.Compression?.Level ?? 0);
        try
        {
            int delivered = Broadcast(frames, connections, _connections);
            _metrics.MessagesSent(opcode == Opcode.Text, payload.Length, delivered);
        }
        finally
        {
            frames.Return();
        }
    }

    /// <summary>Queues the frame on each connection; returns on how many it was queued.</summary>
    private static int Broadcast(BroadcastFrames frame, IEnumerable<WebSocketConnection>? connections, ConcurrentDictionary<long, WebSocketConnection> registry)
    {
        int delivered = 0;
        if (connections is null)
        {
            // Enumerating the registry itself, not its Values snapshot, which would copy every connection per message.
            foreach (KeyValuePair<long, WebSocketConnection> entry in registry)
            {
                delivered += entry.Value.DeliverBroadcast(frame) ? 1 : 0;
            }
        }
        else if (connections is IReadOnlyList<WebSocketConnection> list)
        {
            // Indexing a list or array allocates nothing, where its IEnumerable enumerator would, once per message.
            for (int i = 0; i < list.Count; i++)
            {
                delivered += list[i].DeliverBroadcast(frame) ? 1 : 0;
            }
        }
        else
        {
            foreach (WebSocketConnection connection in connections)
            {
                delivered += connection.DeliverBroadcast(frame) ? 1 : 0;
            }
        }

        return delivered;
    }
}
