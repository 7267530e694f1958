namespace Tern.Protocol;

/// <summary>The outcome of <see cref="HttpRequestParser.TryParse"/>.</summary>
public enum HttpParseStatus
{
    /// <summary>The head is not complete yet; call again with the same bytes plus whatever arrives next.</summary>
    NeedMoreData,

    /// <summary>A request head was parsed; the bytes after it belong to the caller.</summary>
    Complete,

    /// <summary>The bytes are not an acceptable request head; send the refusal and close the connection.</summary>
    Invalid,
}
