using System.Net.WebSockets;
using System.Threading.Channels;

namespace Tern.Bench.Kestrel;

/// <summary>The connections on /broadcast. Publishing never waits for any of them.</summary>
internal sealed class BroadcastHub
{
    private readonly Lock gate = new();

    // Copied on every join and leave so that publishing walks a plain array without a lock.
    private BroadcastMember[] members = [];

    public void Join(BroadcastMember member)
    {
        lock (gate)
        {
            members = [.. members, member];
        }
    }

    public void Leave(BroadcastMember member)
    {
        lock (gate)
        {
            members = Array.FindAll(members, m => m != member);
        }
    }

    /// <summary>Queues the message for every member; the payload is shared, so it must not change afterwards.</summary>
    public void Publish(ReadOnlyMemory<byte> payload, WebSocketMessageType type)
    {
        var message = new OutgoingMessage(payload, type);
        foreach (var member in Volatile.Read(ref members))
        {
            member.Enqueue(message);
        }
    }
}

internal readonly record struct OutgoingMessage(ReadOnlyMemory<byte> Payload, WebSocketMessageType Type);

/// <summary>
/// One /broadcast connection's send side: a queue drained by a single loop, because a WebSocket allows only one
/// send at a time. The queue is unbounded: the load generator bounds how many messages are in flight.
/// </summary>
internal sealed class BroadcastMember(WebSocket socket)
{
    private readonly Channel<OutgoingMessage> queue =
        Channel.CreateUnbounded<OutgoingMessage>(new UnboundedChannelOptions { SingleReader = true });

    public void Enqueue(OutgoingMessage message) => queue.Writer.TryWrite(message);

    /// <summary>No more messages will be queued; <see cref="SendQueuedAsync"/> ends once the queue is empty.</summary>
    public void Complete() => queue.Writer.TryComplete();

    public async Task SendQueuedAsync()
    {
        try
        {
            await foreach (var message in queue.Reader.ReadAllAsync())
            {
                await socket.SendAsync(message.Payload, message.Type, endOfMessage: true, CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            // The client went away; its receive loop ends too and removes it from the hub.
        }
    }
}
