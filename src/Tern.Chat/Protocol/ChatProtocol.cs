using System.Text.Json.Serialization;

namespace Tern.Chat.Protocol;

// The wire format, described for people in docs/chat-protocol.md. Every message is one JSON object in one text frame,
// with a "type" field first. Property names are camelCase; null fields are left out. Times are UTC ISO 8601 with
// milliseconds (ChatTimeConverter).

/// <summary>Anything a client sends: one shape with every field, because which ones are required depends on the type.</summary>
public sealed class ClientMessage
{
    /// <summary>What the client asks for: join, leave, dm, say, edit, delete, history, read, search, typing, presence, members, rooms, profile.</summary>
    public string? Type { get; set; }

    /// <summary>A room's name (join).</summary>
    public string? Room { get; set; }

    /// <summary>A conversation's id (leave, say, history, read, search, typing, members).</summary>
    public long? Conversation { get; set; }

    /// <summary>Another account's username (dm).</summary>
    public string? Username { get; set; }

    /// <summary>A message text (say, edit).</summary>
    public string? Text { get; set; }

    /// <summary>A message id (edit, delete, read).</summary>
    public long? Id { get; set; }

    /// <summary>Page backwards from this message id (history, search).</summary>
    public long? Before { get; set; }

    /// <summary>Page forwards from this message id (history).</summary>
    public long? After { get; set; }

    /// <summary>The words to search for (search).</summary>
    public string? Query { get; set; }

    /// <summary>online or away (presence).</summary>
    public string? Status { get; set; }

    /// <summary>The new display name (profile).</summary>
    public string? DisplayName { get; set; }

    /// <summary>The client's own tag, echoed in the answer or error; for say, it also makes a re-send idempotent.</summary>
    public string? Ref { get; set; }
}

/// <summary>Limits a client should know to avoid errors.</summary>
/// <param name="MaxTextLength">Longest message text (UTF-16 code units).</param>
/// <param name="MaxTextLines">Most lines in a message.</param>
/// <param name="MaxDisplayNameLength">Longest display name.</param>
/// <param name="MaxRoomLength">Longest room name.</param>
/// <param name="MaxRoomsPerAccount">Most rooms one account can be in.</param>
/// <param name="RateLimitCount">Messages per account per window.</param>
/// <param name="RateLimitWindowSeconds">The rate limit's window.</param>
/// <param name="HistoryPageSize">Most messages in a history page.</param>
/// <param name="SearchPageSize">Most messages in a page of search results.</param>
/// <param name="TypingIntervalSeconds">How often a typing notice is passed on, at most.</param>
public sealed record ChatLimits(
    int MaxTextLength,
    int MaxTextLines,
    int MaxDisplayNameLength,
    int MaxRoomLength,
    int MaxRoomsPerAccount,
    int RateLimitCount,
    double RateLimitWindowSeconds,
    int HistoryPageSize,
    int SearchPageSize,
    double TypingIntervalSeconds);

/// <summary>An account as shown: its username and display name.</summary>
public sealed record AccountView(string Username, string DisplayName);

/// <summary>A member of a conversation with their presence.</summary>
/// <param name="Username">The username.</param>
/// <param name="DisplayName">The display name.</param>
/// <param name="Status">online, away or offline.</param>
public sealed record MemberView(string Username, string DisplayName, string Status);

/// <summary>Someone's presence.</summary>
/// <param name="Username">Whose.</param>
/// <param name="Status">online, away or offline.</param>
public sealed record PresenceView(string Username, string Status);

/// <summary>A room as listed in the directory.</summary>
public sealed record RoomView(long Id, string Name, int Members);

/// <summary>One of the account's conversations, with its unread state.</summary>
/// <param name="Id">The conversation's id.</param>
/// <param name="Kind">room or direct.</param>
/// <param name="Name">The room's name (rooms only).</param>
/// <param name="With">The other person (direct conversations only).</param>
/// <param name="Members">How many members.</param>
/// <param name="LastId">The newest message's id, 0 when there is none.</param>
/// <param name="LastRead">The account's read position.</param>
/// <param name="Unread">Messages by others after it.</param>
/// <param name="Mentions">Of those, the ones mentioning the account.</param>
public sealed record ConversationView(long Id, string Kind, string? Name, AccountView? With, int Members, long LastId, long LastRead, int Unread, int Mentions);

/// <summary>Sent once, as the first message of every connection.</summary>
public sealed record HelloMessage(
    string Server,
    string HistoryId,
    AccountView You,
    ChatLimits Limits,
    IReadOnlyList<ConversationView> Conversations,
    IReadOnlyList<RoomView> Rooms,
    IReadOnlyList<PresenceView> Presence)
{
    /// <summary>Always "hello".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "hello";
}

/// <summary>You joined a room (sent to every connection of yours).</summary>
public sealed record JoinedMessage(ConversationView Conversation, IReadOnlyList<MemberView> Members, string? Ref)
{
    /// <summary>Always "joined".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "joined";
}

/// <summary>You left a room (sent to every connection of yours).</summary>
public sealed record LeftMessage(long Conversation, string? Ref)
{
    /// <summary>Always "left".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "left";
}

/// <summary>A direct conversation opened, by you or the other person.</summary>
public sealed record ConversationMessage(ConversationView Conversation, string? Ref)
{
    /// <summary>Always "conversation".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "conversation";
}

/// <summary>Someone's membership of a room started.</summary>
public sealed record MemberJoinedMessage(long Conversation, MemberView Member, int Members, DateTimeOffset Time)
{
    /// <summary>Always "member_joined".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "member_joined";
}

/// <summary>Someone left a room.</summary>
public sealed record MemberLeftMessage(long Conversation, string Username, int Members, DateTimeOffset Time)
{
    /// <summary>Always "member_left".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "member_left";
}

/// <summary>A message, live or inside <c>history</c> and <c>results</c>.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Conversation">Where.</param>
/// <param name="Author">The author's username.</param>
/// <param name="AuthorName">The author's display name.</param>
/// <param name="Text">The text; left out once deleted.</param>
/// <param name="Time">When it was accepted.</param>
/// <param name="Edited">When it was last edited; left out when never.</param>
/// <param name="Deleted">True for a deleted message; left out otherwise.</param>
/// <param name="Mentions">The usernames it mentions; left out when none.</param>
/// <param name="Ref">The author's tag from <c>say</c>; left out when none.</param>
public sealed record MessageEvent(
    long Id,
    long Conversation,
    string Author,
    string AuthorName,
    string? Text,
    DateTimeOffset Time,
    DateTimeOffset? Edited,
    bool? Deleted,
    IReadOnlyList<string>? Mentions,
    string? Ref)
{
    /// <summary>Always "message".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "message";
}

/// <summary>A message's text changed.</summary>
public sealed record EditedMessage(MessageEvent Message)
{
    /// <summary>Always "edited".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "edited";
}

/// <summary>A message was deleted.</summary>
public sealed record DeletedMessage(long Conversation, long Id)
{
    /// <summary>Always "deleted".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "deleted";
}

/// <summary>A page of a conversation's messages, oldest first.</summary>
/// <param name="Conversation">Which.</param>
/// <param name="Messages">Oldest first.</param>
/// <param name="More">Whether more messages follow in <paramref name="Direction"/>.</param>
/// <param name="Direction">before (older pages) or after (newer pages).</param>
/// <param name="Ref">The request's tag.</param>
public sealed record HistoryMessage(long Conversation, IReadOnlyList<MessageEvent> Messages, bool More, string Direction, string? Ref)
{
    /// <summary>Always "history".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "history";
}

/// <summary>Your read position or unread counts in a conversation changed.</summary>
public sealed record ReadMessage(long Conversation, long LastRead, int Unread, int Mentions)
{
    /// <summary>Always "read".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "read";
}

/// <summary>Search results, newest first.</summary>
public sealed record ResultsMessage(string Query, IReadOnlyList<MessageEvent> Messages, bool More, string? Ref)
{
    /// <summary>Always "results".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "results";
}

/// <summary>Someone is typing.</summary>
public sealed record TypingMessage(long Conversation, string Username)
{
    /// <summary>Always "typing".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "typing";
}

/// <summary>Someone's presence changed.</summary>
public sealed record PresenceMessage(string Username, string Status)
{
    /// <summary>Always "presence".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "presence";
}

/// <summary>The members of a conversation.</summary>
public sealed record MembersMessage(long Conversation, IReadOnlyList<MemberView> Members, string? Ref)
{
    /// <summary>Always "members".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "members";
}

/// <summary>The room directory.</summary>
public sealed record RoomsMessage(IReadOnlyList<RoomView> Rooms, string? Ref)
{
    /// <summary>Always "rooms".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "rooms";
}

/// <summary>Someone's display name changed.</summary>
public sealed record ProfileMessage(string Username, string DisplayName)
{
    /// <summary>Always "profile".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "profile";
}

/// <summary>A request was refused; nothing else changed.</summary>
/// <param name="Code">What went wrong (docs/chat-protocol.md, "Errors").</param>
/// <param name="Message">A sentence for people.</param>
/// <param name="Ref">The request's tag.</param>
/// <param name="Conversation">The conversation the request was about, when it named one.</param>
/// <param name="RetryAfterSeconds">For rate_limited: when to try again.</param>
public sealed record ErrorMessage(string Code, string Message, string? Ref, long? Conversation, double? RetryAfterSeconds)
{
    /// <summary>Always "error".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "error";
}

/// <summary>The presence values on the wire.</summary>
public static class PresenceStatus
{
    /// <summary>A visible tab in use.</summary>
    public const string Online = "online";

    /// <summary>Connected, but every tab hidden or idle.</summary>
    public const string Away = "away";

    /// <summary>Not connected.</summary>
    public const string Offline = "offline";
}
