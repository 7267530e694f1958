using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Tern.Chat.Protocol.Legacy;

// The wire format, described for people in docs/chat-protocol.md. Every message is one JSON object in one text frame,
// with a "type" field first. Property names are camelCase; null fields are left out.

/// <summary>Anything a client sends: one shape with every field, because which ones are required depends on the type.</summary>
public sealed class ClientMessage
{
    /// <summary>join, leave, say, private, history or rooms.</summary>
    public string? Type { get; set; }

    /// <summary>The room the request is about.</summary>
    public string? Room { get; set; }

    /// <summary>The nickname to use in the room (join).</summary>
    public string? Nick { get; set; }

    /// <summary>The message text (say, private).</summary>
    public string? Text { get; set; }

    /// <summary>The recipient's nickname (private).</summary>
    public string? To { get; set; }

    /// <summary>The last message id the client saw in the room (join, history).</summary>
    public long? After { get; set; }

    /// <summary>The token from an earlier "joined", to take the same nickname back after a reconnect (join).</summary>
    public string? Token { get; set; }

    /// <summary>The history the client's ids belong to (join, history); ids from another history are ignored.</summary>
    public string? HistoryId { get; set; }

    /// <summary>The client's own tag, echoed in the resulting message or error.</summary>
    public string? Ref { get; set; }
}

/// <summary>Limits a client should know to avoid errors.</summary>
public sealed record ChatLimits(int MaxTextLength, int RateLimitCount, int RateLimitWindowSeconds, int MaxNickLength, int MaxRoomLength);

/// <summary>A room and how many people are in it.</summary>
public sealed record RoomSummary(string Room, int Members);

/// <summary>Sent once, when the connection opens.</summary>
public sealed record HelloMessage(string Server, string HistoryId, ChatLimits Limits, IReadOnlyList<RoomSummary> Rooms)
{
    /// <summary>Always "hello".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "hello";
}

/// <summary>The room list, on request and whenever member counts change.</summary>
public sealed record RoomsMessage(IReadOnlyList<RoomSummary> Rooms)
{
    /// <summary>Always "rooms".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "rooms";
}

/// <summary>A room message, live or in a history list.</summary>
public sealed record MessageEvent(long Id, string Room, string Nick, string Text, DateTimeOffset Time, string? Ref)
{
    /// <summary>Always "message".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "message";
}

/// <summary>The answer to a join: who is there and what was said.</summary>
public sealed record JoinedMessage(
    string Room,
    string Nick,
    string Token,
    bool Resumed,
    string HistoryId,
    IReadOnlyList<string> Members,
    IReadOnlyList<MessageEvent> History,
    bool More,
    string? Ref)
{
    /// <summary>Always "joined".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "joined";
}

/// <summary>A page of history after a given id.</summary>
public sealed record HistoryMessage(string Room, IReadOnlyList<MessageEvent> Messages, bool More, string? Ref)
{
    /// <summary>Always "history".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "history";
}

/// <summary>You are no longer in a room: you left, or the same nickname joined from another connection.</summary>
public sealed record LeftMessage(string Room, string Reason, string? Ref)
{
    /// <summary>Always "left".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "left";
}

/// <summary>Someone joined a room.</summary>
public sealed record JoinEvent(string Room, string Nick, DateTimeOffset Time)
{
    /// <summary>Always "join".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "join";
}

/// <summary>Someone left a room (reason "left" or "disconnected").</summary>
public sealed record LeaveEvent(string Room, string Nick, string Reason, DateTimeOffset Time)
{
    /// <summary>Always "leave".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "leave";
}

/// <summary>A private message, delivered to its recipient and echoed to its sender.</summary>
public sealed record PrivateEvent(string Room, string From, string To, string Text, DateTimeOffset Time, string? Ref)
{
    /// <summary>Always "private".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "private";
}

/// <summary>A request was refused; nothing else changed.</summary>
public sealed record ErrorMessage(string Code, string Message, string? Ref, string? Room, double? RetryAfterSeconds)
{
    /// <summary>Always "error".</summary>
    [JsonPropertyOrder(-1)]
    public string Type => "error";
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(ClientMessage))]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(RoomsMessage))]
[JsonSerializable(typeof(MessageEvent))]
[JsonSerializable(typeof(JoinedMessage))]
[JsonSerializable(typeof(HistoryMessage))]
[JsonSerializable(typeof(LeftMessage))]
[JsonSerializable(typeof(JoinEvent))]
[JsonSerializable(typeof(LeaveEvent))]
[JsonSerializable(typeof(PrivateEvent))]
[JsonSerializable(typeof(ErrorMessage))]
internal sealed partial class LegacyChatJsonContext : JsonSerializerContext
{
}

/// <summary>Serialization with the generated metadata.</summary>
public static class LegacyChatJson
{
    // The output goes to JSON.parse, never into HTML source, so the HTML-safe escaping of '<', '&' and non-ASCII text
    // only makes messages longer. The page inserts text with textContent either way.
    private static readonly JsonSerializerOptions s_options = new(LegacyChatJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The metadata for a wire type.</summary>
    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)s_options.GetTypeInfo(typeof(T));

    /// <summary>Serializes a server message.</summary>
    public static string Serialize<T>(T message) => JsonSerializer.Serialize(message, TypeInfo<T>());

    /// <summary>Deserializes a message (used by tests and clients written in C#).</summary>
    public static T? Deserialize<T>(string json) => JsonSerializer.Deserialize(json, TypeInfo<T>());
}
