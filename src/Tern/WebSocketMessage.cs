using System.Text;

namespace Tern;

/// <summary>Whether a WebSocket message carries UTF-8 text or binary data.</summary>
public enum WebSocketMessageKind
{
    /// <summary>A text message: the data is valid UTF-8 (Tern checks it before delivering).</summary>
    Text,
    /// <summary>A binary message.</summary>
    Binary,
}

/// <summary>
/// One complete WebSocket message, reassembled from its fragments.
/// </summary>
/// <remarks>
/// The <see cref="Data"/> memory is borrowed from the connection's receive buffer: it is valid until the next message
/// is read from the same connection (the next iteration of <see cref="WebSocketConnection.ReadMessagesAsync"/> or the
/// return of the <see cref="WebSocketHandler.OnMessage"/> callback). Copy it (<c>Data.ToArray()</c>) or decode it
/// (<see cref="GetText"/>) to keep it longer.
/// </remarks>
public readonly struct WebSocketMessage
{
    /// <summary>Creates a message over the given data.</summary>
    public WebSocketMessage(WebSocketMessageKind kind, ReadOnlyMemory<byte> data)
    {
        Kind = kind;
        Data = data;
    }

    /// <summary>Text or binary.</summary>
    public WebSocketMessageKind Kind { get; }

    /// <summary>The payload: UTF-8 bytes for a text message. Valid until the next message is read.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>True for a text message.</summary>
    public bool IsText => Kind == WebSocketMessageKind.Text;

    /// <summary>Decodes the payload as UTF-8 into a new string (a text message is already known to be valid).</summary>
    public string GetText() => Encoding.UTF8.GetString(Data.Span);

    /// <inheritdoc/>
    public override string ToString() => IsText ? GetText() : $"binary message, {Data.Length} bytes";
}
