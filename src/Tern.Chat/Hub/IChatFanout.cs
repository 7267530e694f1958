namespace Tern.Chat.Hub;

/// <summary>
/// Something every chat process must act on: mostly a ready-made JSON message for some set of connections, described
/// by ids rather than connections, so that each process delivers to its own. Kept to plain values so that a
/// several-process fan-out (<see cref="Cluster.PostgresChatFanout"/>) can carry it as JSON.
/// </summary>
/// <param name="Kind">Who gets <paramref name="Json"/>, and what else changes.</param>
/// <param name="ConversationId">The conversation, for the kinds about one; 0 otherwise.</param>
/// <param name="AccountId">The account the event is about (the author, joiner, leaver, reader, or whoever's presence or profile changed); 0 when none.</param>
/// <param name="Json">The message to deliver, already serialized (so it is encoded once); null when there is nothing to send.</param>
/// <param name="SessionId">For <see cref="ChatEventKind.SignOut"/>, the one session signing out; null for all of them.</param>
public sealed record ChatEvent(ChatEventKind Kind, long ConversationId, long AccountId, string? Json, string? SessionId = null)
{
    /// <summary>For <see cref="ChatEventKind.Presence"/>: the account's status on one node.</summary>
    public PresenceEntry? Presence { get; init; }

    /// <summary>For <see cref="ChatEventKind.ToContacts"/> sent for a profile change: the account's new display name.</summary>
    public string? DisplayName { get; init; }

    /// <summary>
    /// Only worth having live (typing): a fan-out between processes need not keep it for a process that missed it.
    /// </summary>
    public bool Ephemeral { get; init; }

    /// <summary>For <see cref="ChatEventKind.NodeGone"/>: the node whose connections are gone.</summary>
    public string? Node { get; init; }

    /// <summary>For <see cref="ChatEventKind.PresenceSnapshot"/>: every account's status on every live node.</summary>
    public IReadOnlyList<PresenceEntry>? Snapshot { get; init; }
}

/// <summary>An account's presence on one node (one process): what that node's connections of the account add up to.</summary>
/// <param name="Node">The node (<see cref="IChatFanout.NodeId"/>).</param>
/// <param name="AccountId">The account.</param>
/// <param name="Username">The account's username (it never changes), so any node can announce it.</param>
/// <param name="Status"><see cref="Protocol.PresenceStatus.Online"/>, <see cref="Protocol.PresenceStatus.Away"/> or <see cref="Protocol.PresenceStatus.Offline"/>.</param>
public sealed record PresenceEntry(string Node, long AccountId, string Username, string Status);

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

    /// <summary>
    /// To every connection of the account and of every account that shares a conversation with it (a profile change;
    /// <see cref="ChatEvent.DisplayName"/> carries the new name).
    /// </summary>
    ToContacts,

    /// <summary>
    /// The account's status on one node (<see cref="ChatEvent.Presence"/>) changed. Every process works out the status
    /// over all nodes and tells the account's contacts when that changed; <see cref="ChatEvent.Json"/> is not used.
    /// </summary>
    Presence,

    /// <summary>
    /// The account signed out (everywhere, or on the one session <see cref="ChatEvent.SessionId"/>): every process closes
    /// the matching connections with <see cref="ChatHub.SignedOutCloseCode"/>.
    /// </summary>
    SignOut,

    /// <summary>
    /// A node (<see cref="ChatEvent.Node"/>) stopped, or stopped heartbeating: its connections are gone, so every
    /// account's presence there is offline. A node that reads its own id here had been given up for dead by the
    /// others (or its fan-out reconnected after announcements may have failed) and publishes its whole presence list
    /// again (<see cref="PresenceSnapshot"/> with its <see cref="ChatEvent.Node"/>).
    /// </summary>
    NodeGone,

    /// <summary>
    /// A presence list (<see cref="ChatEvent.Snapshot"/>). With <see cref="ChatEvent.Node"/> null, every other node's
    /// (what a fan-out reads at start-up and after it reconnected, delivered only to its own process); with a node,
    /// that node's whole list, published by it, which replaces what every process holds for it.
    /// </summary>
    PresenceSnapshot,

    /// <summary>
    /// The fan-out lost events it cannot recover (it was cut off for longer than it keeps events): every cache built
    /// from events is dropped and every connection closed with 1012 (service restart), so that the clients reconnect
    /// and catch up from the store. Only ever delivered by a fan-out to its own process.
    /// </summary>
    Resync,
}

/// <summary>
/// Carries <see cref="ChatEvent"/>s from the hub that produced them to every hub: this process only
/// (<see cref="LocalChatFanout"/>), or every chat process sharing one PostgreSQL database
/// (<see cref="Cluster.PostgresChatFanout"/>).
/// </summary>
/// <remarks>
/// <para><b>Order.</b> The events of one conversation reach every subscriber in one order, the order of the changes
/// they describe: the hub makes a conversation's changes and publishes their events inside a batch
/// (<see cref="Begin"/>), which a fan-out shared by several processes commits together with the store's changes
/// while holding the conversation's lock. Events published outside a batch (presence, profiles, sign-outs, typing)
/// are delivered in the order each process published them.</para>
/// <para><b>Delivery.</b> <see cref="LocalChatFanout"/> calls subscribers on the publisher's flow, so events of
/// different conversations may be delivered at the same time; a fan-out between processes delivers one at a time.</para>
/// </remarks>
public interface IChatFanout
{
    /// <summary>This process's id among the processes sharing the fan-out: the node its presence entries name.</summary>
    string NodeId { get; }

    /// <summary>Delivers an event to every subscriber, this process's included.</summary>
    ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken = default);

    /// <summary>
    /// Begins the changes of one conversation that every process must see in one order: the store's changes made
    /// until the batch is committed and the events added to it are committed together, and the events are delivered
    /// after the events of every batch of the conversation committed before.
    /// </summary>
    /// <remarks>
    /// <para>Synchronous on purpose: a fan-out that shares the store's transaction (<see cref="Cluster.PostgresChatFanout"/>)
    /// marks the caller's async flow here, and a mark made inside an async method would not outlive it. Call it from
    /// the method that then makes the changes; nothing is opened until the batch is first used.</para>
    /// <para>Dispose the batch without committing it to drop its events (and, where the store shares the batch's
    /// transaction, its changes).</para>
    /// </remarks>
    IChatFanoutBatch Begin(long conversationId);

    /// <summary>Starts delivering events to <paramref name="deliver"/>; dispose the result to stop.</summary>
    IDisposable Subscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver);
}

/// <summary>The events of one conversation's changes, published together by <see cref="CommitAsync"/> (see <see cref="IChatFanout.Begin"/>).</summary>
public interface IChatFanoutBatch : IAsyncDisposable
{
    /// <summary>Adds an event, to be published when the batch commits.</summary>
    void Add(ChatEvent chatEvent);

    /// <summary>Commits the batch: its events are published (and, where the store shares its transaction, the changes stored).</summary>
    ValueTask CommitAsync(CancellationToken cancellationToken = default);
}
