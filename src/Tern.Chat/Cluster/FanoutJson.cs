using System.Text.Json.Serialization;
using Tern.Chat.Hub;

namespace Tern.Chat.Cluster;

/// <summary>What a NOTIFY carries: the event's sequence number (0 for events not kept), and the event when it fits.</summary>
/// <param name="Seq">The event's row in <c>fanout_events</c>; 0 for one that is not kept (typing, presence).</param>
/// <param name="Event">The event; null when it was too large for NOTIFY and must be read from its row.</param>
internal sealed record FanoutEnvelope(
    [property: JsonPropertyName("s")] long Seq,
    [property: JsonPropertyName("e")] ChatEvent? Event);

/// <summary>The JSON of events between nodes (source-generated, like the chat protocol's).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FanoutEnvelope))]
[JsonSerializable(typeof(ChatEvent))]
internal sealed partial class FanoutJson : JsonSerializerContext;
