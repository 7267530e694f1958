namespace Tern.Chat.Tests.Storage.NicknameEra;

/// <summary>
/// Where room messages live. The store assigns ids: they only ever grow, so "everything after id N" is a complete
/// answer to a client that saw message N. The hub calls <see cref="AppendAsync"/> for one room at a time, in the order
/// the room's messages are delivered. A store must be safe to call from several threads.
/// </summary>
/// <remarks>
/// The SQLite store serves one process; a PostgreSQL store implementing this interface would let several chat
/// processes share one history (with a fan-out other than <see cref="Hub.LocalChatFanout"/> between them).
/// </remarks>
public interface IChatStore : IAsyncDisposable
{
    /// <summary>
    /// Identifies this history. It changes only when the history is replaced (a new database file, or a memory store
    /// after a restart), which tells clients that the ids they saw before mean nothing here.
    /// </summary>
    string HistoryId { get; }

    /// <summary>Stores a message and returns it with its id, larger than every id stored before.</summary>
    ValueTask<ChatMessage> AppendAsync(NewChatMessage message, CancellationToken cancellationToken = default);

    /// <summary>The last <paramref name="count"/> messages of a room, oldest first.</summary>
    ValueTask<IReadOnlyList<ChatMessage>> GetRecentAsync(string room, int count, CancellationToken cancellationToken = default);

    /// <summary>The first <paramref name="limit"/> messages of a room whose id is greater than <paramref name="afterId"/>, oldest first.</summary>
    ValueTask<IReadOnlyList<ChatMessage>> GetAfterAsync(string room, long afterId, int limit, CancellationToken cancellationToken = default);
}

/// <summary>A message about to be stored.</summary>
/// <param name="Room">The room's name.</param>
/// <param name="Nick">The sender's nickname.</param>
/// <param name="Text">The text, as sent.</param>
/// <param name="Time">When the server accepted it.</param>
/// <param name="ClientRef">The sender's own tag for the message, echoed back so it can recognize it; may be null.</param>
public sealed record NewChatMessage(string Room, string Nick, string Text, DateTimeOffset Time, string? ClientRef);

/// <summary>A stored room message.</summary>
/// <param name="Id">Assigned by the store; grows with every message.</param>
/// <param name="Room">The room's name.</param>
/// <param name="Nick">The sender's nickname.</param>
/// <param name="Text">The text, as sent.</param>
/// <param name="Time">When the server accepted it.</param>
/// <param name="ClientRef">The sender's own tag for the message, or null.</param>
public sealed record ChatMessage(long Id, string Room, string Nick, string Text, DateTimeOffset Time, string? ClientRef);
