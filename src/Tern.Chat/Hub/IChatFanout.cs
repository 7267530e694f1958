namespace Tern.Chat.Hub;

/// <summary>
/// Something every chat process must act on: mostly a ready-made JSON message for some set of connections, described
/// by ids rather than connections, so that each process delivers to its own. Kept to plain values so that a
/// several-process fan-out (PostgreSQL NOTIFY, issue 10) can carry it as JSON.
/// </summary>
/// <param name="Kind">Who gets <paramref name="Json"/>, and what else changes.</param>
/// <param name="ConversationId">The conversation, for the kinds about one; 0 otherwise.</param>
/// <param name="AccountId">The account the event is about (the author, joiner, leaver, reader, or whoever's presence or profile changed); 0 when none.</param>
/// <param name="Json">The message to deliver, already serialized (so it is encoded once); null when there is nothing to send.</param>
/// <param name="SessionId">For <see cref="ChatEventKind.SignOut"/>, the one session signing out; null for all of them.</param>
public sealed record ChatEvent(ChatEventKind Kind, long ConversationId, long AccountId, string? Json, string? SessionId = null);

/// <summary>The kinds of <see cref="ChatEvent"/>: who receives it.</summary>
public enum ChatEventKind
{
    /// <summary>To every connection of every member of the conversation, except those of <see cref="ChatEvent.AccountId"/> when it is not 0.</summary>
    ToMembers,

    /// <summary>To every connection of <see cref="ChatEvent.AccountId"/>.</summary>
    ToAccount,

    /// <summary>The account became a member of the conversation (every process updates its member cache); the JSON goes to the other members.</summary>
    MemberJoined,

    /// <summary>The account stopped being a member (every process updates its member cache); the JSON goes to the remaining members.</summary>
    MemberLeft,

    /// <summary>To every connection of the account and of every account that shares a conversation with it.</summary>
    ToContacts,

    /// <summary>Like <see cref="ToContacts"/>, without the account's own connections (presence).</summary>
    Presence,

    /// <summary>
    /// The account signed out (everywhere, or on the one session <see cref="ChatEvent.SessionId"/>): every process closes
    /// the matching connections with <see cref="ChatHub.SignedOutCloseCode"/>.
    /// </summary>
    SignOut,
}

/// <summary>
/// Carries <see cref="ChatEvent"/>s from the hub that produced them to every hub — this process only
/// (<see cref="LocalChatFanout"/>), or every chat process sharing one store (PostgreSQL LISTEN/NOTIFY, issue 10).
/// </summary>
/// <remarks>
/// A fan-out must deliver the events of one conversation in the order they were published: the hub publishes a
/// conversation's messages while holding that conversation's gate, in id order, and members must see that order.
/// </remarks>
public interface IChatFanout
{
    /// <summary>Delivers an event to every subscriber, this process's included.</summary>
    ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken = default);

    /// <summary>Starts delivering events to <paramref name="deliver"/>; dispose the result to stop.</summary>
    IDisposable Subscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver);
}

/// <summary>
/// The fan-out of a single process: publishing delivers straight to the subscribers, before returning, so the order of
/// events is the order of publishing (and a publisher holding a conversation's gate delivers under it).
/// </summary>
public sealed class LocalChatFanout : IChatFanout
{
    private readonly object _lock = new();
    private Func<ChatEvent, CancellationToken, ValueTask>[] _subscribers = [];

    /// <inheritdoc/>
    public async ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        foreach (Func<ChatEvent, CancellationToken, ValueTask> deliver in Volatile.Read(ref _subscribers))
        {
            await deliver(chatEvent, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public IDisposable Subscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, deliver];
        }

        return new Subscription(this, deliver);
    }

    private void Unsubscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver)
    {
        lock (_lock)
        {
            _subscribers = Array.FindAll(_subscribers, s => s != deliver);
        }
    }

    private sealed class Subscription(LocalChatFanout fanout, Func<ChatEvent, CancellationToken, ValueTask> deliver) : IDisposable
    {
        public void Dispose() => fanout.Unsubscribe(deliver);
    }
}
