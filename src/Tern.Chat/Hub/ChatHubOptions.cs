namespace Tern.Chat.Hub;

/// <summary>Limits and behaviour of a <see cref="ChatHub"/> (the table "Limits and defaults" of docs/chat-protocol.md).</summary>
public sealed class ChatHubOptions
{
    /// <summary>Longest message text, in UTF-16 code units (what JavaScript's <c>length</c> counts). Default 4,000.</summary>
    public int MaxTextLength { get; set; } = 4000;

    /// <summary>Most lines in a message text. Default 200.</summary>
    public int MaxTextLines { get; set; } = 200;

    /// <summary>Longest room name. Default 32.</summary>
    public int MaxRoomLength { get; set; } = 32;

    /// <summary>
    /// How many messages (<c>say</c>, <c>edit</c>, <c>delete</c>, <c>dm</c>, <c>join</c>, <c>leave</c>, <c>profile</c>:
    /// everything that writes or is announced to others) an account may send in <see cref="RateLimitWindow"/>, over all
    /// its connections. Default 20.
    /// </summary>
    public int RateLimitCount { get; set; } = 20;

    /// <summary>The sliding window of every rate limit and of the pull budget. Default 10 s.</summary>
    public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How many messages all the connections from one client address may send in <see cref="RateLimitWindow"/>, so that
    /// many accounts made by one person cannot multiply <see cref="RateLimitCount"/> without end. Default 60.
    /// </summary>
    public int AddressRateLimitCount { get; set; } = 60;

    /// <summary>How many requests of any kind (and frames that are not requests) one connection may send in <see cref="RateLimitWindow"/>. Default 120.</summary>
    public int RequestLimitCount { get; set; } = 120;

    /// <summary>
    /// How many bytes of <c>history</c>, <c>results</c> and <c>members</c> answers one connection may pull in
    /// <see cref="RateLimitWindow"/>. Default 2 MiB.
    /// </summary>
    public int PullBudgetBytes { get; set; } = 2 * 1024 * 1024;

    /// <summary>
    /// How many bytes of <c>history</c>, <c>results</c> and <c>members</c> answers all the connections of one account
    /// together may pull in <see cref="RateLimitWindow"/>, so that opening a hundred sockets does not pull a hundred
    /// times <see cref="PullBudgetBytes"/>. Default 4 MiB (a few tabs catching up at once).
    /// </summary>
    public int AccountPullBudgetBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Most messages in one <c>history</c> page. Default 50.</summary>
    public int HistoryPageSize { get; set; } = 50;

    /// <summary>Most bytes of serialized messages in one <c>history</c> page; a page over it is cut and says <c>more</c>. Default 256 KiB.</summary>
    public int HistoryPageBytes { get; set; } = 256 * 1024;

    /// <summary>Most messages in one page of search results. Default 25.</summary>
    public int SearchPageSize { get; set; } = 25;

    /// <summary>Longest search query. Default 200.</summary>
    public int MaxQueryLength { get; set; } = 200;

    /// <summary>Most rooms one account can be in (direct conversations do not count). Default 50.</summary>
    public int MaxRoomsPerAccount { get; set; } = 50;

    /// <summary>Most rooms on the server. Default 1,000.</summary>
    public int MaxRooms { get; set; } = 1000;

    /// <summary>
    /// How many rooms one account may create in <see cref="RoomCreationWindow"/>. Joining and leaving frees a place in
    /// <see cref="MaxRoomsPerAccount"/>, so without it one account could create every room the server allows
    /// (<see cref="MaxRooms"/>) in minutes. Default 10.
    /// </summary>
    public int RoomCreationLimit { get; set; } = 10;

    /// <summary>How many rooms all the accounts on one client address may create in <see cref="RoomCreationWindow"/>. Default 20.</summary>
    public int AddressRoomCreationLimit { get; set; } = 20;

    /// <summary>The window of <see cref="RoomCreationLimit"/> and <see cref="AddressRoomCreationLimit"/> (refilled evenly). Default 1 hour.</summary>
    public TimeSpan RoomCreationWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How many of the busiest rooms the directory lists (besides the asker's own). Default 50.</summary>
    public int RoomDirectorySize { get; set; } = 50;

    /// <summary>Shortest time between two <c>typing</c> notices passed on for one person in one conversation. Default 2 s.</summary>
    public TimeSpan TypingInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Shortest time between two announcements of one account's change between online and away: a change sooner is
    /// held back and the latest status announced when the time is up, so that a client flipping its status cannot
    /// make the server write to every contact at its request rate, and contacts still end with the true status. Going
    /// offline and coming back online are announced at once. Default 2 s.
    /// </summary>
    public TimeSpan PresenceInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How often the sign-in sessions of open connections are looked up, so that a connection whose session expired
    /// or was removed from the store is closed (4001) within this time; zero turns the check off. Default 1 minute.
    /// </summary>
    public TimeSpan SessionCheckInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long membership changes are gathered before the directory is pushed to everyone: it is pushed at most once
    /// per this time. Default 1 s.
    /// </summary>
    public TimeSpan RoomListDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws when a limit is out of range, so that a mistake shows at start-up instead of as odd refusals.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTextLength, 1, nameof(MaxTextLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxTextLines, 1, nameof(MaxTextLines));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRoomLength, 1, nameof(MaxRoomLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(RateLimitCount, 1, nameof(RateLimitCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(AddressRateLimitCount, 1, nameof(AddressRateLimitCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(RequestLimitCount, 1, nameof(RequestLimitCount));
        ArgumentOutOfRangeException.ThrowIfLessThan(PullBudgetBytes, 1024, nameof(PullBudgetBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(AccountPullBudgetBytes, 1024, nameof(AccountPullBudgetBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(RateLimitWindow, TimeSpan.FromMilliseconds(100), nameof(RateLimitWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(HistoryPageSize, 1, nameof(HistoryPageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(HistoryPageBytes, 1024, nameof(HistoryPageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(SearchPageSize, 1, nameof(SearchPageSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueryLength, 2, nameof(MaxQueryLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRoomsPerAccount, 1, nameof(MaxRoomsPerAccount));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRooms, 1, nameof(MaxRooms));
        ArgumentOutOfRangeException.ThrowIfLessThan(RoomCreationLimit, 1, nameof(RoomCreationLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(AddressRoomCreationLimit, 1, nameof(AddressRoomCreationLimit));
        ArgumentOutOfRangeException.ThrowIfLessThan(RoomCreationWindow, TimeSpan.FromSeconds(1), nameof(RoomCreationWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(RoomDirectorySize, 0, nameof(RoomDirectorySize));
        ArgumentOutOfRangeException.ThrowIfLessThan(TypingInterval, TimeSpan.Zero, nameof(TypingInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(RoomListDelay, TimeSpan.Zero, nameof(RoomListDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(PresenceInterval, TimeSpan.Zero, nameof(PresenceInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(SessionCheckInterval, TimeSpan.Zero, nameof(SessionCheckInterval));
    }
}
