using System.Globalization;

namespace Tern.Chat.Protocol;

/// <summary>Every error the server sends, with its code and wording, in one place (documented in docs/chat-protocol.md).</summary>
public static class ChatErrors
{
    /// <summary>The types a client may send, for the unknown-type message.</summary>
    public const string KnownTypes = "join, leave, say, private, history, rooms";

    /// <summary>The frame is not JSON.</summary>
    public static ErrorMessage BadJson(string detail) => new("bad_json", $"Malformed JSON: {detail}", null, null, null);

    /// <summary>The JSON is not an object.</summary>
    public static ErrorMessage NotAnObject() =>
        new("bad_json", "Expected a JSON object such as {\"type\":\"say\",\"room\":\"general\",\"text\":\"hi\"}.", null, null, null);

    /// <summary>A field has the wrong JSON type.</summary>
    public static ErrorMessage BadField(string field, string expected, string? clientRef) =>
        new("bad_field", $"Field '{field}' must be {expected}.", clientRef, null, null);

    /// <summary>A field the type needs is missing.</summary>
    public static ErrorMessage MissingField(string field, string? type, string? clientRef) =>
        new("missing_field", type is null ? $"Field '{field}' is required." : $"Field '{field}' is required for '{type}'.", clientRef, null, null);

    /// <summary>The type is not one the server knows.</summary>
    public static ErrorMessage UnknownType(string type, string? clientRef) =>
        new("unknown_type", $"Unknown message type '{type}'; expected one of: {KnownTypes}.", clientRef, null, null);

    /// <summary>A binary frame arrived.</summary>
    public static ErrorMessage BinaryNotSupported() =>
        new("binary_not_supported", "Binary messages are not supported; send JSON as text.", null, null, null);

    /// <summary>Too many messages in the rate window.</summary>
    public static ErrorMessage RateLimited(int count, TimeSpan window, TimeSpan retryAfter, string? clientRef, string what = "messages") =>
        new("rate_limited",
            string.Create(CultureInfo.InvariantCulture, $"Slow down: at most {count} {what} per {window.TotalSeconds:0.#} seconds. Try again in {Math.Max(0.1, retryAfter.TotalSeconds):0.#} s."),
            clientRef, null, Math.Round(Math.Max(0.1, retryAfter.TotalSeconds), 1));

    /// <summary>The room name is not valid.</summary>
    public static ErrorMessage BadRoom(int maxLength, string? clientRef) =>
        new("bad_room", $"A room name is 1 to {maxLength} letters, digits, '-' or '_', starting with a letter or digit.", clientRef, null, null);

    /// <summary>The nickname is not valid.</summary>
    public static ErrorMessage BadNick(int maxLength, string? clientRef) =>
        new("bad_nick", $"A nickname is 1 to {maxLength} letters, digits, '-', '_' or '.', starting with a letter or digit.", clientRef, null, null);

    /// <summary>Someone else in the room has the nickname.</summary>
    public static ErrorMessage NickTaken(string nick, string room, string? clientRef) =>
        new("nick_taken", $"The nickname '{nick}' is already taken in room '{room}'; choose another.", clientRef, room, null);

    /// <summary>This connection is already in the room.</summary>
    public static ErrorMessage AlreadyInRoom(string room, string nick, string? clientRef) =>
        new("already_in_room", $"You are already in room '{room}' as '{nick}'.", clientRef, room, null);

    /// <summary>This connection is in too many rooms.</summary>
    public static ErrorMessage TooManyRooms(int max, string? clientRef) =>
        new("too_many_rooms", $"A connection can be in at most {max} rooms; leave one first.", clientRef, null, null);

    /// <summary>This connection is not in the room.</summary>
    public static ErrorMessage NotInRoom(string room, string? clientRef) =>
        new("not_in_room", $"You are not in room '{room}'; join it first.", clientRef, room, null);

    /// <summary>The text is empty or only white space.</summary>
    public static ErrorMessage EmptyText(string? clientRef, string? room) =>
        new("empty_text", "The message is empty.", clientRef, room, null);

    /// <summary>The text is over the limit.</summary>
    public static ErrorMessage TextTooLong(int length, int maxLength, string? clientRef, string? room) =>
        new("text_too_long", $"The message is {length} characters long; the limit is {maxLength}.", clientRef, room, null);

    /// <summary>The text has control characters other than tab and line breaks.</summary>
    public static ErrorMessage BadText(string? clientRef, string? room) =>
        new("bad_text", "The message contains control characters; only tabs and line breaks are allowed.", clientRef, room, null);

    /// <summary>A private message's recipient is not connected in the room.</summary>
    public static ErrorMessage NoSuchUser(string nick, string room, string? clientRef) =>
        new("no_such_user", $"Nobody called '{nick}' is connected in room '{room}'.", clientRef, room, null);

    /// <summary>The server failed (the store, most likely); the request had no effect.</summary>
    public static ErrorMessage ServerError(string? clientRef, string? room) =>
        new("server_error", "The server could not do that just now; please try again.", clientRef, room, null);
}
