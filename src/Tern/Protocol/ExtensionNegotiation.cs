using System.Globalization;
using System.Text;

namespace Tern.Protocol;

/// <summary>One element of a <c>Sec-WebSocket-Extensions</c> list: an extension name and its parameters, in order.</summary>
/// <param name="Name">The extension token, for example <c>permessage-deflate</c>.</param>
/// <param name="Parameters">Each parameter's name and value (null when it has none; a quoted-string arrives unquoted).</param>
public sealed record WebSocketExtension(string Name, IReadOnlyList<KeyValuePair<string, string?>> Parameters);

/// <summary>
/// The permessage-deflate parameters in effect on a connection (RFC 7692 §7.1), from this side's point of view: what
/// the server's compressor and the client's compressor may do.
/// </summary>
/// <param name="ServerNoContextTakeover">The server compresses each message on its own.</param>
/// <param name="ClientNoContextTakeover">The client compresses each message on its own.</param>
/// <param name="ServerMaxWindowBits">Largest window (8..15) the server's compressor uses.</param>
/// <param name="ClientMaxWindowBits">Largest window (8..15) the client's compressor uses.</param>
public sealed record PerMessageDeflateParameters(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int ServerMaxWindowBits, int ClientMaxWindowBits);

/// <summary>
/// <c>Sec-WebSocket-Extensions</c> (RFC 6455 §9.1) and the permessage-deflate negotiation (RFC 7692 §7): parsing lists of
/// offers, choosing one on the server, building the client's offer and checking the server's answer. No I/O.
/// </summary>
public static class ExtensionNegotiation
{
    /// <summary>The extension's registered name.</summary>
    public const string PerMessageDeflate = "permessage-deflate";

    private const string ServerNoContextTakeover = "server_no_context_takeover";
    private const string ClientNoContextTakeover = "client_no_context_takeover";
    private const string ServerMaxWindowBits = "server_max_window_bits";
    private const string ClientMaxWindowBits = "client_max_window_bits";

    /// <summary>
    /// Parses a <c>Sec-WebSocket-Extensions</c> value (several fields joined with commas): a comma-separated list (RFC 9110
    /// §5.6.1, empty elements allowed) of <c>token *( OWS ";" OWS token [ "=" ( token / quoted-string ) ] )</c>.
    /// Returns false on any syntax error.
    /// </summary>
    public static bool TryParse(string? value, out List<WebSocketExtension> extensions)
    {
        extensions = [];
        if (value is null)
        {
            return true;
        }

        int i = 0;
        while (true)
        {
            SkipWhitespace(value, ref i);
            if (i == value.Length)
            {
                return true;
            }

            if (value[i] == ',')
            {
                i++;
                continue;
            }

            if (!TryReadToken(value, ref i, out string name))
            {
                return false;
            }

            var parameters = new List<KeyValuePair<string, string?>>();
            while (true)
            {
                SkipWhitespace(value, ref i);
                if (i == value.Length || value[i] == ',')
                {
                    break;
                }

                if (value[i] != ';')
                {
                    return false;
                }

                i++;
                SkipWhitespace(value, ref i);
                if (!TryReadToken(value, ref i, out string parameter))
                {
                    return false;
                }

                SkipWhitespace(value, ref i);
                string? parameterValue = null;
                if (i < value.Length && value[i] == '=')
                {
                    i++;
                    SkipWhitespace(value, ref i);
                    if (i < value.Length && value[i] == '"')
                    {
                        if (!TryReadQuotedString(value, ref i, out parameterValue))
                        {
                            return false;
                        }
                    }
                    else if (!TryReadToken(value, ref i, out parameterValue))
                    {
                        return false;
                    }
                }

                parameters.Add(new(parameter, parameterValue));
            }

            extensions.Add(new WebSocketExtension(name, parameters));
        }
    }

    /// <summary>
    /// The server's choice (RFC 7692 §7.1): walks the client's permessage-deflate offers in order and accepts the first
    /// valid one, answering only with parameters the client allowed. Returns null (decline: no extension, the connection
    /// still opens) when the header is absent or malformed or no offer is valid.
    /// </summary>
    /// <param name="offers">The request's <c>Sec-WebSocket-Extensions</c> value (fields joined with commas), or null.</param>
    /// <param name="options">What the server prefers.</param>
    /// <param name="response">The <c>Sec-WebSocket-Extensions</c> value to answer with, when accepted.</param>
    public static PerMessageDeflateParameters? Negotiate(string? offers, WebSocketCompressionOptions options, out string? response)
    {
        ArgumentNullException.ThrowIfNull(options);
        response = null;
        if (!TryParse(offers, out List<WebSocketExtension> extensions))
        {
            return null;
        }

        foreach (WebSocketExtension offer in extensions)
        {
            if (!string.Equals(offer.Name, PerMessageDeflate, StringComparison.OrdinalIgnoreCase)
                || !TryReadParameters(offer, isResponse: false, out DeflateParameters offered))
            {
                continue;
            }

            // server_no_context_takeover and client_no_context_takeover may be answered even when not offered (§7.1.1).
            bool serverNoContext = offered.ServerNoContextTakeover || !options.ServerContextTakeover;
            bool clientNoContext = offered.ClientNoContextTakeover || !options.ClientContextTakeover;
            // server_max_window_bits is answered only when offered (then with the same or a smaller value, §7.1.2.1);
            // otherwise the server just stays within its own limit, which any decompressor with a 15-bit window reads.
            int serverBits = Math.Min(options.ServerMaxWindowBits, offered.ServerMaxWindowBits ?? 15);
            // client_max_window_bits only if the client said it can limit its window (§7.1.2.2). A value the client
            // stated is always answered (with it or less): ClientWebSocket fails a connection whose answer leaves it out.
            int clientLimit = offered.ClientMaxWindowBits is > 0 and int stated ? stated : 15;
            int clientBits = Math.Min(options.ClientMaxWindowBits, clientLimit);
            bool answerClientBits = offered.ClientMaxWindowBits > 0 || offered.ClientMaxWindowBits == 0 && clientBits < 15;

            var text = new StringBuilder(PerMessageDeflate);
            if (serverNoContext)
            {
                text.Append("; ").Append(ServerNoContextTakeover);
            }

            if (clientNoContext)
            {
                text.Append("; ").Append(ClientNoContextTakeover);
            }

            if (offered.ServerMaxWindowBits is not null)
            {
                text.Append("; ").Append(ServerMaxWindowBits).Append('=').Append(serverBits);
            }

            if (answerClientBits)
            {
                text.Append("; ").Append(ClientMaxWindowBits).Append('=').Append(clientBits);
            }

            response = text.ToString();
            return new PerMessageDeflateParameters(serverNoContext, clientNoContext, serverBits, offered.ClientMaxWindowBits is null ? 15 : clientBits);
        }

        return null;
    }

    /// <summary>The client's offer: one permessage-deflate element from <paramref name="options"/>, always allowing
    /// the server to limit the client's window.</summary>
    public static string CreateOffer(WebSocketCompressionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var text = new StringBuilder(PerMessageDeflate);
        if (!options.ServerContextTakeover)
        {
            text.Append("; ").Append(ServerNoContextTakeover);
        }

        if (!options.ClientContextTakeover)
        {
            text.Append("; ").Append(ClientNoContextTakeover);
        }

        if (options.ServerMaxWindowBits < 15)
        {
            text.Append("; ").Append(ServerMaxWindowBits).Append('=').Append(options.ServerMaxWindowBits);
        }

        text.Append("; ").Append(ClientMaxWindowBits);
        if (options.ClientMaxWindowBits < 15)
        {
            text.Append('=').Append(options.ClientMaxWindowBits);
        }

        return text.ToString();
    }

    /// <summary>
    /// Checks the server's <c>Sec-WebSocket-Extensions</c> answer to <see cref="CreateOffer"/>. True with null parameters
    /// when the server declined (no header); true with the parameters in effect when it accepted validly; false with an
    /// <paramref name="error"/> when the answer breaks RFC 7692 (the client must then fail the connection).
    /// </summary>
    public static bool TryAcceptResponse(string? response, WebSocketCompressionOptions? options, out PerMessageDeflateParameters? parameters, out string? error)
    {
        parameters = null;
        error = null;
        if (response is null)
        {
            return true;
        }

        if (!TryParse(response, out List<WebSocketExtension> extensions))
        {
            error = "The server's Sec-WebSocket-Extensions is malformed.";
            return false;
        }

        if (extensions.Count == 0)
        {
            return true;
        }

        if (options is null || extensions.Count != 1 || !string.Equals(extensions[0].Name, PerMessageDeflate, StringComparison.OrdinalIgnoreCase))
        {
            error = "The server enabled an extension that was not offered.";
            return false;
        }

        if (!TryReadParameters(extensions[0], isResponse: true, out DeflateParameters answered))
        {
            error = "The server answered permessage-deflate with an invalid or duplicate parameter.";
            return false;
        }

        if (options.ServerMaxWindowBits < 15 && (answered.ServerMaxWindowBits ?? 15) > options.ServerMaxWindowBits)
        {
            error = "The server's server_max_window_bits is larger than the client offered.";
            return false;
        }

        // Lenient where that is safe: a server that leaves out server_no_context_takeover is taken to keep its context,
        // so the client keeps its decompressor; that reads both kinds of stream.
        parameters = new PerMessageDeflateParameters(
            answered.ServerNoContextTakeover,
            answered.ClientNoContextTakeover || !options.ClientContextTakeover,
            answered.ServerMaxWindowBits ?? 15,
            Math.Min(options.ClientMaxWindowBits, answered.ClientMaxWindowBits ?? 15));
        return true;
    }

    /// <summary>The parameters of one permessage-deflate element; a window size is null when absent, 0 when present without a value.</summary>
    private record struct DeflateParameters(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int? ServerMaxWindowBits, int? ClientMaxWindowBits);

    /// <summary>
    /// Reads and checks one element's parameters (RFC 7692 §7.1): unknown names, duplicates, values on the takeover flags,
    /// window sizes outside 8..15 (or missing where required) make it invalid.
    /// </summary>
    private static bool TryReadParameters(WebSocketExtension extension, bool isResponse, out DeflateParameters result)
    {
        result = default;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, string? value) in extension.Parameters)
        {
            if (!seen.Add(name))
            {
                return false;
            }

            if (name.Equals(ServerNoContextTakeover, StringComparison.OrdinalIgnoreCase) && value is null)
            {
                result.ServerNoContextTakeover = true;
            }
            else if (name.Equals(ClientNoContextTakeover, StringComparison.OrdinalIgnoreCase) && value is null)
            {
                result.ClientNoContextTakeover = true;
            }
            else if (name.Equals(ServerMaxWindowBits, StringComparison.OrdinalIgnoreCase) && TryReadWindowBits(value, out int serverBits))
            {
                result.ServerMaxWindowBits = serverBits;
            }
            else if (name.Equals(ClientMaxWindowBits, StringComparison.OrdinalIgnoreCase) && value is null && !isResponse)
            {
                result.ClientMaxWindowBits = 0;
            }
            else if (name.Equals(ClientMaxWindowBits, StringComparison.OrdinalIgnoreCase) && TryReadWindowBits(value, out int clientBits))
            {
                result.ClientMaxWindowBits = clientBits;
            }
            else
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A window size: a decimal 8..15 with no leading zero or sign (RFC 7692 §7.1.2).</summary>
    private static bool TryReadWindowBits(string? value, out int bits)
    {
        bits = 0;
        return value is { Length: 1 or 2 } && value[0] != '0' && value.All(char.IsAsciiDigit)
            && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out bits) && bits is >= 8 and <= 15;
    }

    private static void SkipWhitespace(string value, ref int i)
    {
        while (i < value.Length && value[i] is ' ' or '\t')
        {
            i++;
        }
    }

    private static bool TryReadToken(string value, ref int i, out string token)
    {
        int start = i;
        while (i < value.Length && HttpSyntax.IsToken(value.AsSpan(i, 1)))
        {
            i++;
        }

        token = value[start..i];
        return i > start;
    }

    /// <summary>A quoted-string (RFC 9110 §5.6.4) starting at the opening quote, unescaped.</summary>
    private static bool TryReadQuotedString(string value, ref int i, out string? text)
    {
        text = null;
        var builder = new StringBuilder();
        i++;
        while (i < value.Length)
        {
            char c = value[i++];
            if (c == '"')
            {
                text = builder.ToString();
                return true;
            }

            if (c == '\\')
            {
                if (i == value.Length)
                {
                    return false;
                }

                c = value[i++];
            }

            if (c < ' ' && c != '\t' || c == '\u007F')
            {
                return false;
            }

            builder.Append(c);
        }

        return false;
    }
}
