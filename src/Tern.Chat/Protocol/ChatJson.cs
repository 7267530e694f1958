using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Tern.Chat.Protocol;

/// <summary>Writes times as the protocol shows them: UTC, ISO 8601, always with milliseconds ("2025-01-01T12:00:00.000Z").</summary>
public sealed class ChatTimeConverter : JsonConverter<DateTimeOffset>
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <inheritdoc/>
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString() ?? throw new JsonException("Expected a time."), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture));
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict,
    Converters = [typeof(ChatTimeConverter)])]
[JsonSerializable(typeof(ClientMessage))]
[JsonSerializable(typeof(HelloMessage))]
[JsonSerializable(typeof(JoinedMessage))]
[JsonSerializable(typeof(LeftMessage))]
[JsonSerializable(typeof(ConversationMessage))]
[JsonSerializable(typeof(MemberJoinedMessage))]
[JsonSerializable(typeof(MemberLeftMessage))]
[JsonSerializable(typeof(MessageEvent))]
[JsonSerializable(typeof(EditedMessage))]
[JsonSerializable(typeof(DeletedMessage))]
[JsonSerializable(typeof(HistoryMessage))]
[JsonSerializable(typeof(ReadMessage))]
[JsonSerializable(typeof(ResultsMessage))]
[JsonSerializable(typeof(TypingMessage))]
[JsonSerializable(typeof(PresenceMessage))]
[JsonSerializable(typeof(MembersMessage))]
[JsonSerializable(typeof(RoomsMessage))]
[JsonSerializable(typeof(ProfileMessage))]
[JsonSerializable(typeof(ErrorMessage))]
internal sealed partial class ChatJsonContext : JsonSerializerContext
{
}

/// <summary>Serialization of the wire types with the generated metadata.</summary>
public static class ChatJson
{
    // The output goes to JSON.parse, never into HTML source, so the HTML-safe escaping of '<', '&' and non-ASCII text
    // only makes messages longer. The page inserts text with textContent either way.
    private static readonly JsonSerializerOptions s_options = new(ChatJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The metadata for a wire type.</summary>
    public static JsonTypeInfo<T> TypeInfo<T>() => (JsonTypeInfo<T>)s_options.GetTypeInfo(typeof(T));

    /// <summary>Serializes a message.</summary>
    public static string Serialize<T>(T message) => JsonSerializer.Serialize(message, TypeInfo<T>());

    /// <summary>How many UTF-8 bytes a message takes on the wire.</summary>
    public static int Utf8Length<T>(T message) => JsonSerializer.SerializeToUtf8Bytes(message, TypeInfo<T>()).Length;

    /// <summary>Deserializes a message (used by tests and clients written in C#).</summary>
    public static T? Deserialize<T>(string json) => JsonSerializer.Deserialize(json, TypeInfo<T>());
}
