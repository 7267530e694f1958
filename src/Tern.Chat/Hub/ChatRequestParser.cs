using System.Text.Json;
using Tern.Chat.Protocol;

namespace Tern.Chat.Hub;

/// <summary>Reads a client's JSON frame into a <see cref="ClientMessage"/>, or says precisely what is wrong with it.</summary>
internal static class ChatRequestParser
{
    /// <summary>The request, or the error to answer with (<c>bad_json</c> or <c>bad_field</c>).</summary>
    public static (ClientMessage? Request, ErrorMessage? Error) Parse(ReadOnlyMemory<byte> utf8Json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json);
        }
        catch (JsonException e)
        {
            return (null, ChatErrors.BadJson(e.Message));
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, ChatErrors.NotAnObject());
            }

            try
            {
                return (root.Deserialize(ChatJson.TypeInfo<ClientMessage>()), null);
            }
            catch (JsonException e)
            {
                // The syntax is fine, so a field has the wrong type; e.Path names it ("$.conversation").
                string field = e.Path is { Length: > 2 } path ? path[2..] : "?";
                string? clientRef = root.TryGetProperty("ref", out JsonElement refElement) && refElement.ValueKind == JsonValueKind.String ? refElement.GetString() : null;
                long? conversation = root.TryGetProperty("conversation", out JsonElement c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out long id) ? id : null;
                return (null, ChatErrors.BadField(field, Expected(field), clientRef, conversation));
            }
        }
    }

    private static string Expected(string field) => field switch
    {
        "conversation" or "id" or "before" or "after" => "a whole number",
        _ => "a string",
    };
}
