namespace Tern.Chat.Hub;

/// <summary>Limits and behaviour of a <see cref="ChatHub"/>.</summary>
public sealed class ChatHubOptions
{
    /// <summary>Longest message text, in UTF-16 code units (what JavaScript's <c>length</c> counts). Default 4,000.</summary>
    public int MaxTextLength { get; set; } = 4000;

    /// <summary>How many messages (say and private) a connection may post in <see cref="RateLimitWindow"/>. Default 20.</summary>
    public int RateLimitCount { get; set; } = 20;

    /// <summary>The sliding window of the rate limit. Default 10 s.</summary>
    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many other frames (join, leave, history, rooms, and anything unparsable) a connection may send in
    /// <see cref="RequestRateLimitWindow"/>. Separate from the message limit, so that someone who posted up to it can
    /// still change rooms; generous, but a flood of joins is not free. Default 60.
    /// </summary>
    public int RequestRateLimitCount { get; set; } = 60;

    /// <summary>The sliding window of <see cref="RequestRateLimitCount"/>. Default 10 s.</summary>
    public TimeSpan RequestRateLimitWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many recent messages a join without a last-seen id gets. Default 100.</summary>
    public int HistoryOnJoin { get; set; } = 100;

    /// <summary>Most messages in one answer to "everything after id N"; the client asks again while "more" is true. Default 200.</summary>
    public int HistoryPageSize { get; set; } = 200;

    /// <summary>Most rooms one connection can be in at once. Default 10.</summary>
    public int MaxRoomsPerConnection { get; set; } = 10;

    /// <summary>Longest nickname. Default 24.</summary>
    public int MaxNickLength { get; set; } = 24;

    /// <summary>Longest room name. Default 32.</summary>
    public int MaxRoomLength { get; set; } = 32;

    /// <summary>
    /// How long a member whose connection dropped stays in the room, so that a page reconnecting (or reloading) with
    /// its token takes its place without leave and join notices. Zero announces the leave at once. Default 10 s.
    /// </summary>
    public TimeSpan ReconnectGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long membership changes are gathered before the room list is pushed to everyone. Default 1 s.</summary>
    public TimeSpan RoomListDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Rooms always listed, even when empty. Default "general".</summary>
    public IList<string> DefaultRooms { get; } = ["general"];
}
