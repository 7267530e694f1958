using System.Text;

namespace Tern.Diagnostics;

/// <summary>
/// Text a peer chose (a close reason, a request path, a header value) on its way into a log message: control characters,
/// line and paragraph separators and bidirectional overrides are escaped (<c>\x1B</c>, <c>\r</c>, <c>\u202E</c>), and
/// long values are cut, so a peer can neither forge log lines nor hide what it sent. Escaped when the line is written,
/// so a disabled log level costs nothing.
/// </summary>
/// <example><c>logger.LogInformation("Closed: {Reason}", new PeerText(connection.CloseInfo?.Reason));</c></example>
public readonly struct PeerText(string? value)
{
    /// <summary>Longest value logged; the rest is replaced by a note of how much was cut.</summary>
    public const int MaxLength = 256;

    /// <summary>The escaped text.</summary>
    public override string ToString() => Escape(value);

    /// <summary>The escaped form of <paramref name="value"/> (empty for null).</summary>
    public static string Escape(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }

        int length = Math.Min(value.Length, MaxLength);
        int i = 0;
        while (i < length && !NeedsEscape(value, i))
        {
            i += char.IsHighSurrogate(value[i]) ? 2 : 1;
        }

        if (i >= value.Length)
        {
            return value;
        }

        var escaped = new StringBuilder(length + 16);
        escaped.Append(value, 0, i);
        for (; i < length; i++)
        {
            char c = value[i];
            if (!NeedsEscape(value, i))
            {
                escaped.Append(c);
                if (char.IsHighSurrogate(c))
                {
                    // A valid pair (an emoji, say): both halves as they are.
                    escaped.Append(value[++i]);
                }

                continue;
            }

            _ = c switch
            {
                '\r' => escaped.Append("\\r"),
                '\n' => escaped.Append("\\n"),
                '\t' => escaped.Append("\\t"),
                '\\' => escaped.Append("\\\\"),
                < '\u0100' => escaped.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture)),
                _ => escaped.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture)),
            };
        }

        if (value.Length > length)
        {
            escaped.Append("… (").Append(value.Length - length).Append(" more characters)");
        }

        return escaped.ToString();
    }

    private static bool NeedsEscape(string value, int index)
    {
        char c = value[index];
        if (char.IsHighSurrogate(c))
        {
            return index + 1 >= value.Length || !char.IsLowSurrogate(value[index + 1]);
        }

        return char.IsLowSurrogate(c) || NeedsEscape(c);
    }

    private static bool NeedsEscape(char c) =>
        c < ' ' || c == '\\' || c is >= '\u007F' and <= '\u009F'
        // Line and paragraph separators start new lines in some viewers; bidirectional controls reorder what is shown.
        || c is '\u2028' or '\u2029' or >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069' or '\u200E' or '\u200F' or '\u061C';
}
