namespace Tern.Chat.Storage;

/// <summary>
/// Rooms, direct conversations, their members, messages, read positions and search: everything the chat keeps
/// besides accounts. Rooms and direct conversations are both "conversations", so history, unread counts, edits and
/// search work the same for both.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> Message ids come from the store and only ever grow across the whole store (never reused), so
/// "everything after id N" in a conversation is a complete answer to a client that saw N. The hub appends to one
/// conversation at a time, in the order it delivers; the ordering rules (ids, unread, what counts as a mention) live
/// here so that a PostgreSQL store can implement the same contract for several nodes.</para>
/// <para><b>Access.</b> The store does not check who may read what, except in <see cref="SearchAsync"/> (which only
/// ever returns messages of conversations the account is a member of); the hub checks membership before every read.</para>
/// <para>Safe to call from several threads.</para>
/// </remarks>
public interface IConversationStore
{
    /// <summary>
    /// Identifies this history. It changes only when the history is replaced (a new database), which tells clients
    /// that the ids they saw before mean nothing here.
    /// </summary>
    string HistoryId { get; }

    // Rooms

    /// <summary>The room with this (normalized) name, or null.</summary>
    ValueTask<Conversation?> FindRoomAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// The room with this name, created when missing unless the store already holds <paramref name="maxRooms"/>
    /// rooms (then <see cref="RoomCreation.LimitReached"/> is true and no room is returned).
    /// </summary>
    ValueTask<RoomCreation> GetOrCreateRoomAsync(string name, long creatorId, int maxRooms, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>The rooms with the most members, busiest first (ties by name), at most <paramref name="count"/>.</summary>
    ValueTask<IReadOnlyList<RoomListing>> GetBusiestRoomsAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>The listings of the given rooms (for the rooms an account is in, which it always sees listed).</summary>
    ValueTask<IReadOnlyList<RoomListing>> GetRoomListingsAsync(IReadOnlyCollection<long> conversationIds, CancellationToken cancellationToken = default);

    // Direct conversations

    /// <summary>The one direct conversation between two accounts, created (with both as members) when missing.</summary>
    ValueTask<Conversation> GetOrCreateDirectAsync(long accountA, long accountB, DateTimeOffset now, CancellationToken cancellationToken = default);

    // Members

    /// <summary>
    /// Makes the account a member; false when it already was. A new member's read position starts at the
    /// conversation's last message, so joining does not make the whole history unread.
    /// </summary>
    ValueTask<bool> AddMemberAsync(long conversationId, long accountId, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Ends a membership (leaving a room); false when there was none. Direct conversations cannot be left.</summary>
    ValueTask<bool> RemoveMemberAsync(long conversationId, long accountId, CancellationToken cancellationToken = default);

    /// <summary>Whether the account is a member.</summary>
    ValueTask<bool> IsMemberAsync(long conversationId, long accountId, CancellationToken cancellationToken = default);

    /// <summary>The members with their names, sorted by username key.</summary>
    ValueTask<IReadOnlyList<MemberInfo>> GetMembersAsync(long conversationId, CancellationToken cancellationToken = default);

    /// <summary>How many rooms (not direct conversations) the account is in.</summary>
    ValueTask<int> CountRoomMembershipsAsync(long accountId, CancellationToken cancellationToken = default);

    /// <summary>Every conversation the account is in, with its unread state; rooms by name, then direct ones by the other person's name.</summary>
    ValueTask<IReadOnlyList<ConversationState>> GetConversationsAsync(long accountId, CancellationToken cancellationToken = default);

    // Messages

    /// <summary>
    /// Stores a message and returns it with its id, larger than every id stored before. When the author already
    /// stored a message with the same non-null <see cref="NewMessage.ClientRef"/> in this conversation (a re-send
    /// after a reconnect), nothing is stored and that message is returned with <see cref="AppendResult.Duplicate"/> true.
    /// </summary>
    ValueTask<AppendResult> AppendAsync(NewMessage message, CancellationToken cancellationToken = default);

    /// <summary>A message by id, or null.</summary>
    ValueTask<StoredMessage?> GetMessageAsync(long messageId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the text (and the mentions) of a message by its author; null when there is no such message, it is not
    /// the author's, or it was deleted.
    /// </summary>
    ValueTask<StoredMessage?> EditAsync(long messageId, long authorId, string text, IReadOnlyList<long> mentionedAccountIds, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes a message by its author: its text and mentions are removed from the store (and the search index) and a
    /// tombstone stays in its place. Null when there is no such message, it is not the author's, or it was deleted.
    /// </summary>
    ValueTask<StoredMessage?> DeleteAsync(long messageId, long authorId, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// The newest <paramref name="limit"/> messages with an id below <paramref name="beforeId"/> (the newest of all when
    /// null), oldest first.
    /// </summary>
    ValueTask<IReadOnlyList<StoredMessage>> GetBeforeAsync(long conversationId, long? beforeId, int limit, CancellationToken cancellationToken = default);

    /// <summary>The first <paramref name="limit"/> messages with an id above <paramref name="afterId"/>, oldest first.</summary>
    ValueTask<IReadOnlyList<StoredMessage>> GetAfterAsync(long conversationId, long afterId, int limit, CancellationToken cancellationToken = default);

    // Read positions

    /// <summary>
    /// Moves the account's read position forward to <paramref name="messageId"/> (never backwards) and returns the
    /// resulting state. The position is per account, so every device of a person agrees.
    /// </summary>
    ValueTask<ReadState> MarkReadAsync(long conversationId, long accountId, long messageId, CancellationToken cancellationToken = default);

    /// <summary>The account's read position and unread counts in a conversation.</summary>
    ValueTask<ReadState> GetReadStateAsync(long conversationId, long accountId, CancellationToken cancellationToken = default);

    // Search

    /// <summary>
    /// Full-text search over the conversations the account is a member of (or one of them), newest first, at most
    /// <paramref name="limit"/>, only ids below <paramref name="beforeId"/> when given. The query is plain words typed
    /// by a person (no search syntax): every word must occur, the last one as a prefix.
    /// </summary>
    ValueTask<IReadOnlyList<StoredMessage>> SearchAsync(long accountId, string query, long? conversationId, long? beforeId, int limit, CancellationToken cancellationToken = default);
}

/// <summary>Rooms and direct conversations.</summary>
public enum ConversationKind
{
    /// <summary>A named room anyone can join.</summary>
    Room,

    /// <summary>A conversation between exactly two accounts, readable by them only.</summary>
    Direct,
}

/// <summary>A room or a direct conversation.</summary>
/// <param name="Id">Assigned by the store.</param>
/// <param name="Kind">Room or direct.</param>
/// <param name="Name">The room's name (normalized); null for direct conversations.</param>
/// <param name="AccountA">For direct conversations, the participant with the smaller id.</param>
/// <param name="AccountB">For direct conversations, the participant with the larger id.</param>
/// <param name="Created">When.</param>
public sealed record Conversation(long Id, ConversationKind Kind, string? Name, long? AccountA, long? AccountB, DateTimeOffset Created);

/// <summary>The answer of <see cref="IConversationStore.GetOrCreateRoomAsync"/>.</summary>
public sealed record RoomCreation(Conversation? Room, bool Created, bool LimitReached);

/// <summary>A room as listed in the room directory.</summary>
public sealed record RoomListing(long ConversationId, string Name, int Members);

/// <summary>A member of a conversation.</summary>
public sealed record MemberInfo(long AccountId, string Username, string DisplayName);

/// <summary>An account's view of one of its conversations.</summary>
/// <param name="Conversation">The conversation.</param>
/// <param name="Other">For direct conversations, the other participant.</param>
/// <param name="MemberCount">How many members.</param>
/// <param name="LastMessageId">The id of its newest message, 0 when empty.</param>
/// <param name="Read">The account's read position and unread counts.</param>
public sealed record ConversationState(Conversation Conversation, MemberInfo? Other, int MemberCount, long LastMessageId, ReadState Read);

/// <summary>Where an account stands in a conversation.</summary>
/// <param name="LastReadId">The newest message id the account has seen.</param>
/// <param name="Unread">Messages after it by others, deletions excluded.</param>
/// <param name="Mentions">Of those, the ones that mention the account.</param>
public sealed record ReadState(long LastReadId, int Unread, int Mentions);

/// <summary>A message about to be stored.</summary>
/// <param name="ConversationId">Where.</param>
/// <param name="AuthorId">Who.</param>
/// <param name="Text">The text, already checked by the hub.</param>
/// <param name="Time">When the server accepted it.</param>
/// <param name="ClientRef">The sender's own tag, echoed back and used to store a re-sent message once; may be null.</param>
/// <param name="MentionedAccountIds">Accounts mentioned with @name (members of the conversation).</param>
public sealed record NewMessage(long ConversationId, long AuthorId, string Text, DateTimeOffset Time, string? ClientRef, IReadOnlyList<long> MentionedAccountIds);

/// <summary>The answer of <see cref="IConversationStore.AppendAsync"/>.</summary>
public sealed record AppendResult(StoredMessage Message, bool Duplicate);

/// <summary>A stored message with its author's current names.</summary>
/// <param name="Id">Grows with every message in the store.</param>
/// <param name="ConversationId">Where.</param>
/// <param name="AuthorId">Who.</param>
/// <param name="AuthorUsername">The author's username.</param>
/// <param name="AuthorDisplayName">The author's display name now.</param>
/// <param name="Text">The text; empty once deleted.</param>
/// <param name="Time">When it was accepted.</param>
/// <param name="Edited">When it was last edited, or null.</param>
/// <param name="Deleted">True for a tombstone.</param>
/// <param name="ClientRef">The sender's tag, or null.</param>
/// <param name="MentionedAccountIds">The accounts it mentions (empty once deleted).</param>
public sealed record StoredMessage(
    long Id,
    long ConversationId,
    long AuthorId,
    string AuthorUsername,
    string AuthorDisplayName,
    string Text,
    DateTimeOffset Time,
    DateTimeOffset? Edited,
    bool Deleted,
    string? ClientRef,
    IReadOnlyList<long> MentionedAccountIds);
