using System.Globalization;
using Tern.Chat.Text;

namespace Tern.Chat.Protocol;

/// <summary>Every error the server sends on the socket, with its code and wording, in one place (docs/chat-protocol.md, "Errors").</summary>
public static class ChatErrors
{
    /// <summary>The types a client may send, for the unknown-type message.</summary>
    public const string KnownTypes = "join, leave, dm, say, edit, delete, history, read, search, typing, presence, members, rooms, profile";

    /// <summary>The frame is not JSON.</summary>
    public static ErrorMessage BadJson(string detail) => new("bad_json", $"Malformed JSON: {detail}", null, null, null);

    /// <summary>The JSON is not an object.</summary>
    public static ErrorMessage NotAnObject() =>
        new("bad_json", "Expected a JSON object such as {\"type\":\"say\",\"conversation\":1,\"text\":\"hi\"}.", null, null, null);

    /// <summary>A field has the wrong JSON type or an impossible value.</summary>
    public static ErrorMessage BadField(string field, string expected, string? clientRef, long? conversation = null) =>
        new("bad_field", $"Field '{field}' must be {expected}.", clientRef, conversation, null);

    /// <summary>A field the type needs is missing.</summary>
    public static ErrorMessage MissingField(string field, string? type, string? clientRef, long? conversation = null) =>
        new("missing_field", type is null ? $"Field '{field}' is required." : $"Field '{field}' is required for '{type}'.", clientRef, conversation, null);

    /// <summary>The type is not one the server knows.</summary>
    public static ErrorMessage UnknownType(string type, string? clientRef) =>
        new("unknown_type", $"Unknown message type '{Shorten(type)}'; expected one of: {KnownTypes}.", clientRef, null, null);

    /// <summary>A binary frame arrived.</summary>
    public static ErrorMessage BinaryNotSupported() =>
        new("binary_not_supported", "Binary messages are not supported; send JSON as text.", null, null, null);

    /// <summary>The account sent too many messages in the window.</summary>
    public static ErrorMessage RateLimited(int count, TimeSpan window, TimeSpan retryAfter, string? clientRef, long? conversation) =>
        Limited($"at most {count} messages per {Seconds(window)} seconds", retryAfter, clientRef, conversation);

    /// <summary>The connections of one client address together sent too many messages in the window.</summary>
    public static ErrorMessage AddressRateLimited(int count, TimeSpan window, TimeSpan retryAfter, string? clientRef, long? conversation) =>
        Limited($"at most {count} messages per {Seconds(window)} seconds from one network address", retryAfter, clientRef, conversation);

    /// <summary>The connection sent too many requests in the window.</summary>
    public static ErrorMessage RequestsLimited(int count, TimeSpan window, TimeSpan retryAfter, string? clientRef, long? conversation) =>
        Limited($"at most {count} requests per {Seconds(window)} seconds", retryAfter, clientRef, conversation);

    /// <summary>The connection pulled too much history, search or member lists in the window.</summary>
    public static ErrorMessage PullLimited(int bytes, TimeSpan window, TimeSpan retryAfter, string? clientRef, long? conversation) =>
        Limited($"at most {Size(bytes)} of history, search results and member lists per {Seconds(window)} seconds", retryAfter, clientRef, conversation);

    /// <summary>The account, or its network address, created too many rooms in the window.</summary>
    public static ErrorMessage RoomCreationLimited(int count, TimeSpan window, bool byAddress, TimeSpan retryAfter, string? clientRef) =>
        Limited($"at most {count} new rooms per {Minutes(window)} minutes{(byAddress ? " from one network address" : "")}; join an existing one", retryAfter, clientRef, null);

    /// <summary>All the connections of one account together pulled too much history, search or member lists in the window.</summary>
    public static ErrorMessage AccountPullLimited(int bytes, TimeSpan window, TimeSpan retryAfter, string? clientRef, long? conversation) =>
        Limited($"at most {Size(bytes)} of history, search results and member lists per {Seconds(window)} seconds per account, all its connections together", retryAfter, clientRef, conversation);

    /// <summary>The room name is not valid.</summary>
    public static ErrorMessage BadRoom(int maxLength, string? clientRef) =>
        new("bad_room", $"A room name is 1 to {maxLength} letters, digits, '-' or '_', starting with a letter or digit.", clientRef, null, null);

    /// <summary>The account is in as many rooms as it may be.</summary>
    public static ErrorMessage TooManyRooms(int max, string? clientRef) =>
        new("too_many_rooms", $"You can be in at most {max} rooms; leave one first.", clientRef, null, null);

    /// <summary>The server holds as many rooms as it may.</summary>
    public static ErrorMessage RoomLimit(int max, string? clientRef) =>
        new("room_limit", $"This server has reached its limit of {max} rooms; join an existing one.", clientRef, null, null);

    /// <summary>The account is not a member of the conversation, or there is no such conversation (the same answer, so ids cannot be probed).</summary>
    public static ErrorMessage NotMember(long conversation, string? clientRef) =>
        new("not_member", "You are not in that conversation.", clientRef, conversation, null);

    /// <summary>A direct conversation cannot be left.</summary>
    public static ErrorMessage NotARoom(long conversation, string? clientRef) =>
        new("not_a_room", "Direct conversations cannot be left.", clientRef, conversation, null);

    /// <summary>No account has the name.</summary>
    public static ErrorMessage NoSuchUser(string username, string? clientRef) =>
        new("no_such_user", $"There is no account called '{Shorten(username)}'.", clientRef, null, null);

    /// <summary>A direct conversation needs another person.</summary>
    public static ErrorMessage DirectWithYourself(string? clientRef) =>
        new("no_such_user", "A direct conversation is with someone else; you cannot open one with yourself.", clientRef, null, null);

    /// <summary>
    /// The account has no such message to change: none with the id, someone else's, already deleted, or in a
    /// conversation the account is not in (one answer for all, so ids cannot be probed).
    /// </summary>
    public static ErrorMessage NoSuchMessage(long id, string action, string? clientRef) =>
        new("no_such_message", $"You have no message {id} to {action}.", clientRef, null, null);

    /// <summary>A message text breaks one of the rules of <see cref="MessageText.Check"/>.</summary>
    public static ErrorMessage BadMessageText(MessageTextProblem problem, string text, int maxLength, int maxLines, string? clientRef, long? conversation) => problem switch
    {
        MessageTextProblem.Empty => new("empty_text", "The message is empty.", clientRef, conversation, null),
        MessageTextProblem.TooLong => new("text_too_long", $"The message is {text.Length} characters long; the limit is {maxLength}.", clientRef, conversation, null),
        MessageTextProblem.TooManyLines => new("too_many_lines", $"The message has {MessageText.CountLines(text)} lines; the limit is {maxLines}.", clientRef, conversation, null),
        _ => new("bad_text", $"The message {Describe(problem)}.", clientRef, conversation, null),
    };

    /// <summary>A display name breaks one of the rules of <see cref="MessageText.CheckInline"/>.</summary>
    public static ErrorMessage BadDisplayName(MessageTextProblem problem, int maxLength, string? clientRef) =>
        new("bad_display_name",
            $"A display name is 1 to {maxLength} characters on one line, with something visible; this one {Describe(problem)}.",
            clientRef, null, null);

    /// <summary>The search has no word to look for, or is too long.</summary>
    public static ErrorMessage BadQuery(int maxLength, string? clientRef, long? conversation) =>
        new("bad_query", $"Search for at least one word of 2 or more characters (at most {maxLength} characters in all).", clientRef, conversation, null);

    /// <summary>presence with a status other than online and away.</summary>
    public static ErrorMessage BadStatus(string? clientRef) => BadField("status", "'online' or 'away'", clientRef);

    /// <summary>The server failed (the store, most likely); the request had no effect.</summary>
    public static ErrorMessage ServerError(string? clientRef, long? conversation) =>
        new("server_error", "The server could not do that just now; please try again.", clientRef, conversation, null);

    private static string Describe(MessageTextProblem problem) => problem switch
    {
        MessageTextProblem.Empty => "is empty",
        MessageTextProblem.TooLong => "is too long",
        MessageTextProblem.TooManyLines => "has too many lines",
        MessageTextProblem.ControlCharacters => "contains control characters; only tabs and line breaks are allowed",
        MessageTextProblem.DirectionControls => "contains direction-changing characters (U+202A–U+202E, U+2066–U+2069), which could reorder the page around it",
        MessageTextProblem.Invisible => "has no visible characters",
        MessageTextProblem.CombiningMarks => $"stacks too many combining marks on one character (at most {MessageText.MaxCombiningMarks})",
        _ => "is not allowed",
    };

    private static ErrorMessage Limited(string limit, TimeSpan retryAfter, string? clientRef, long? conversation)
    {
        // At least 0.1 s: "try again in 0 s" would invite an immediate retry that is refused again.
        double seconds = Math.Round(Math.Max(0.1, retryAfter.TotalSeconds), 1);
        return new("rate_limited", string.Create(CultureInfo.InvariantCulture, $"Slow down: {limit}. Try again in {seconds:0.0} s."), clientRef, conversation, seconds);
    }

    private static string Seconds(TimeSpan window) => window.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Minutes(TimeSpan window) => window.TotalMinutes.ToString("0.#", CultureInfo.InvariantCulture);

    private static string Size(int bytes) => bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0
        ? $"{bytes / (1024 * 1024)} MiB"
        : bytes >= 1024 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB") : $"{bytes} bytes";

    /// <summary>What a person sent, cut so that an error cannot be made to echo a long text.</summary>
    private static string Shorten(string text) => text.Length > 40 ? string.Concat(text.AsSpan(0, 40), "…") : text;
}
