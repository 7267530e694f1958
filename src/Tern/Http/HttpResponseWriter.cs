using System.Buffers;
using System.Globalization;
using System.Text;
using Tern.Protocol;

namespace Tern.Http;

/// <summary>Serializes an <see cref="HttpResponse"/> (HTTP/1.1, Connection: close).</summary>
internal static class HttpResponseWriter
{
    public static void Write(IBufferWriter<byte> output, HttpResponse response, bool headOnly)
    {
        bool bodyAllowed = response.StatusCode is not (204 or 304) && response.StatusCode >= 200;
        var head = new StringBuilder(256);
        head.Append("HTTP/1.1 ").Append(response.StatusCode.ToString(CultureInfo.InvariantCulture)).Append(' ')
            .Append(Handshake.ReasonPhrase(response.StatusCode)).Append("\r\n");
        bool hasLength = false;
        foreach (KeyValuePair<string, string> header in response.Headers)
        {
            if (header.Key.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!HttpSyntax.IsToken(header.Key) || !HttpSyntax.IsFieldValue(header.Value))
            {
                // Refuse rather than let a CR/LF in a value inject headers or split the response.
                throw new ArgumentException($"Invalid response header '{header.Key}': names must be tokens and values must not contain control characters.", nameof(response));
            }

            hasLength |= header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase);
            head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        if (!hasLength && bodyAllowed)
        {
            head.Append("Content-Length: ").Append(response.Body.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        }

        head.Append("Connection: close\r\n\r\n");
        int written = Encoding.Latin1.GetBytes(head.ToString(), output.GetSpan(Encoding.Latin1.GetByteCount(head.ToString())));
        output.Advance(written);
        if (bodyAllowed && !headOnly && !response.Body.IsEmpty)
        {
            output.Write(response.Body.Span);
        }
    }
}
