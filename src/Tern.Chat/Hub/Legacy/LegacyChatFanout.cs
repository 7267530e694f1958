namespace Tern.Chat.Hub;

/// <summary>What happened in a room, as passed between hubs. Join and leave events carry no message.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="Room">The room.</param>
/// <param name="Nick">Who joined, left or wrote.</param>
/// <param name="Time">When.</param>
/// <param name="Message">The stored message, for <see cref="ChatRoomEventKind.Message"/>.</param>
/// <param name="Reason">Why someone left ("left" or "disconnected"), for <see cref="ChatRoomEventKind.Leave"/>.</param>
public sealed record ChatRoomEvent(ChatRoomEventKind Kind, string Room, string Nick, DateTimeOffset Time, Storage.ChatMessage? Message = null, string? Reason = null);

/// <summary>The kinds of <see cref="ChatRoomEvent"/>.</summary>
public enum ChatRoomEventKind
{
    /// <summary>A message was stored.</summary>
    Message,
    /// <summary>Someone joined.</summary>
    Join,
    /// <summary>Someone left.</summary>
    Leave,
}

/// <summary>
/// Carries room events from the hub that produced them to every hub that has members in the room — this process
/// only (<see cref="LegacyLocalChatFanout"/>), or every chat process sharing one store (a PostgreSQL LISTEN/NOTIFY
/// implementation, later). A fan-out delivers one room's events in the order they were published.
/// </summary>
public interface ILegacyChatFanout
{
    /// <summary>Delivers an event to every subscriber, this process's included. The hub calls it in the room's order.</summary>
    ValueTask PublishAsync(ChatRoomEvent roomEvent, CancellationToken cancellationToken = default);

    /// <summary>Starts delivering events to <paramref name="deliver"/>; dispose the result to stop.</summary>
    IDisposable Subscribe(Func<ChatRoomEvent, CancellationToken, ValueTask> deliver);
}

/// <summary>
/// The fan-out of a single process: publishing delivers straight to the subscribers, before returning, so the
/// order of events is the order of publishing.
/// </summary>
public sealed class LegacyLocalChatFanout : ILegacyChatFanout
{
    private readonly object _lock = new();
    private Func<ChatRoomEvent, CancellationToken, ValueTask>[] _subscribers = [];

    /// <inheritdoc/>
    public async ValueTask PublishAsync(ChatRoomEvent roomEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(roomEvent);
        foreach (Func<ChatRoomEvent, CancellationToken, ValueTask> deliver in Volatile.Read(ref _subscribers))
        {
            await deliver(roomEvent, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public IDisposable Subscribe(Func<ChatRoomEvent, CancellationToken, ValueTask> deliver)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, deliver];
        }

        return new Subscription(this, deliver);
    }

    private void Unsubscribe(Func<ChatRoomEvent, CancellationToken, ValueTask> deliver)
    {
        lock (_lock)
        {
            _subscribers = Array.FindAll(_subscribers, s => s != deliver);
        }
    }

    private sealed class Subscription(LegacyLocalChatFanout fanout, Func<ChatRoomEvent, CancellationToken, ValueTask> deliver) : IDisposable
    {
        public void Dispose() => fanout.Unsubscribe(deliver);
    }
}
